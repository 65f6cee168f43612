// Tests of the hyperlocal rules table (io/rules.h): the shipped CSV, lookups, overrides,
// display names, and the errors a malformed CSV produces.
#include "io/rules.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "tests/testing/temp_dir.h"

namespace geoshard {
namespace {

const RuleTable& shipped() {
  static const RuleTable t = RuleTable::load(default_rules_path());
  return t;
}

std::optional<int> speed(const RuleTable& t, std::string_view cc, std::string_view hw, bool urban,
                         const std::vector<std::pair<std::string, std::string>>& areas = {}) {
  return t.facts_for(cc, hw, urban, areas).speed_limit_kmh;
}

// Expects parse() to throw a RulesError at `line` about `column` whose message contains `what`.
void expect_error(const std::string& csv, int line, const std::string& column, const std::string& what) {
  try {
    RuleTable::parse(csv, "bad.csv");
    ADD_FAILURE() << "no error for:\n" << csv;
  } catch (const RulesError& e) {
    EXPECT_EQ(e.file(), "bad.csv");
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_EQ(e.column(), column) << e.what();
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad.csv:" + std::to_string(line) + ": "), std::string::npos) << msg;
    if (!column.empty()) {
      EXPECT_NE(msg.find("column '" + column + "'"), std::string::npos) << msg;
    }
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

const std::string kHeader =
    "scope,key,iso3,name,driving_side,languages,speed_urban_kmh,speed_rural_kmh,speed_motorway_kmh,"
    "speed_residential_kmh,speed_living_street_kmh,access_notes,motorway_access_notes,note\n";

// ------------------------------------------------------------------------------ shipped table

TEST(RulesShipped, ParsesAndHasEveryRequiredCountry) {
  const RuleTable& t = shipped();
  struct Want {
    const char* iso2;
    const char* iso3;
    DrivingSide side;
  };
  const std::vector<Want> want = {
      {"BN", "BRN", DrivingSide::kLeft},  {"KH", "KHM", DrivingSide::kRight},
      {"ID", "IDN", DrivingSide::kLeft},  {"LA", "LAO", DrivingSide::kRight},
      {"MY", "MYS", DrivingSide::kLeft},  {"MM", "MMR", DrivingSide::kRight},
      {"PH", "PHL", DrivingSide::kRight}, {"SG", "SGP", DrivingSide::kLeft},
      {"TH", "THA", DrivingSide::kLeft},  {"TL", "TLS", DrivingSide::kLeft},
      {"VN", "VNM", DrivingSide::kRight}, {"MC", "MCO", DrivingSide::kRight},
      {"LI", "LIE", DrivingSide::kRight}, {"FR", "FRA", DrivingSide::kRight},
      {"CH", "CHE", DrivingSide::kRight}, {"AT", "AUT", DrivingSide::kRight},
      {"FI", "FIN", DrivingSide::kRight},
  };
  for (const Want& w : want) {
    SCOPED_TRACE(w.iso2);
    const CountryRule* c = t.country(w.iso2);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(t.country(w.iso3), c);
    EXPECT_EQ(c->iso2, w.iso2);
    EXPECT_EQ(c->iso3, w.iso3);
    EXPECT_EQ(c->driving_side, w.side);
    EXPECT_FALSE(c->languages.empty());
    EXPECT_FALSE(c->name.empty());
    EXPECT_FALSE(c->note.empty()) << "every shipped row explains its values";
    const RoadFacts f = t.facts_for(w.iso3, "primary", true, {});
    EXPECT_EQ(f.country, c);
    EXPECT_EQ(f.driving_side, w.side);
    EXPECT_EQ(f.display_language, c->languages.front());
  }
  EXPECT_GE(t.countries().size(), want.size());
}

TEST(RulesShipped, LookupIgnoresCaseAndRejectsOtherShapes) {
  const RuleTable& t = shipped();
  EXPECT_EQ(t.country("sg"), t.country("SG"));
  EXPECT_EQ(t.country("sgp"), t.country("SG"));
  EXPECT_EQ(t.country(" SG "), t.country("SG"));
  EXPECT_EQ(t.country(""), nullptr);
  EXPECT_EQ(t.country("S"), nullptr);
  EXPECT_EQ(t.country("SGPX"), nullptr);
  EXPECT_EQ(t.country("XX"), nullptr);
}

TEST(RulesShipped, OfficialLanguages) {
  const RuleTable& t = shipped();
  EXPECT_EQ(t.country("SG")->languages, (std::vector<std::string>{"en", "ms", "zh", "ta"}));
  EXPECT_EQ(t.country("CH")->languages, (std::vector<std::string>{"de", "fr", "it", "rm"}));
  EXPECT_EQ(t.country("FI")->languages, (std::vector<std::string>{"fi", "sv"}));
  EXPECT_EQ(t.country("MY")->languages.front(), "ms");
  EXPECT_EQ(t.country("TH")->languages.front(), "th");
  EXPECT_EQ(t.country("VN")->languages.front(), "vi");
  EXPECT_EQ(t.country("MC")->languages.front(), "fr");
}

TEST(RulesShipped, KnownSpeedDefaults) {
  const RuleTable& t = shipped();
  EXPECT_EQ(speed(t, "FR", "motorway", false), 130);
  EXPECT_EQ(speed(t, "FR", "motorway_link", true), 130);  // a motorway is a motorway in town too
  EXPECT_EQ(speed(t, "FR", "primary", true), 50);
  EXPECT_EQ(speed(t, "FR", "secondary", false), 80);
  EXPECT_EQ(speed(t, "FR", "living_street", true), 20);
  EXPECT_EQ(speed(t, "AT", "trunk", false), 100);
  EXPECT_EQ(speed(t, "AT", "motorway", false), 130);
  EXPECT_EQ(speed(t, "CH", "motorway", false), 120);
  EXPECT_EQ(speed(t, "CH", "tertiary", false), 80);
  EXPECT_EQ(speed(t, "LI", "primary", false), 80);
  EXPECT_EQ(speed(t, "MC", "primary", true), 50);
  EXPECT_EQ(speed(t, "FI", "unclassified", false), 80);
  EXPECT_EQ(speed(t, "ID", "motorway", false), 100);
  EXPECT_EQ(speed(t, "ID", "residential", true), 30);
  EXPECT_EQ(speed(t, "ID", "living_street", true), 30);  // falls back to residential
  EXPECT_EQ(speed(t, "ID", "service", false), 30);
  EXPECT_EQ(speed(t, "MY", "motorway", false), 110);
  EXPECT_EQ(speed(t, "SG", "residential", true), 50);  // falls back to urban
  EXPECT_EQ(speed(t, "SG", "primary", false), 50);
  EXPECT_EQ(speed(t, "PH", "primary", false), 80);
  EXPECT_EQ(speed(t, "PH", "tertiary", true), 30);
  EXPECT_EQ(speed(t, "KH", "primary", true), 40);
  EXPECT_EQ(speed(t, "TH", "primary", true), 80);
  EXPECT_EQ(speed(t, "TH", "primary", false), 90);
}

TEST(RulesShipped, NoDefaultWhereTheLawHasNone) {
  const RuleTable& t = shipped();
  EXPECT_EQ(speed(t, "FI", "motorway", false), std::nullopt);  // every motorway is signed
  EXPECT_EQ(speed(t, "SG", "motorway", false), std::nullopt);  // scheduled per road
  EXPECT_EQ(speed(t, "MY", "primary", true), std::nullopt);    // gazetted per road
  EXPECT_EQ(speed(t, "MM", "primary", false), std::nullopt);   // not verified
  EXPECT_EQ(speed(t, "FR", "footway", true), std::nullopt);    // not a motor road
  EXPECT_EQ(t.facts_for("FR", "cycleway", true, {}).setting, SpeedSetting::kNone);
  const RoadFacts wohn = t.facts_for("AT", "living_street", true, {});
  EXPECT_TRUE(wohn.walking_pace);
  EXPECT_EQ(wohn.speed_limit_kmh, std::nullopt);
  EXPECT_NE(wohn.speed_origin.find("rules.csv:"), std::string::npos);
}

TEST(RulesShipped, MotorwayNotesOnlyOnMotorways) {
  const RuleTable& t = shipped();
  EXPECT_NE(t.facts_for("VN", "motorway", false, {}).access_notes.find("motorcycles"), std::string::npos);
  EXPECT_EQ(t.facts_for("VN", "primary", false, {}).access_notes, "");
  EXPECT_NE(t.facts_for("CH", "motorway_link", false, {}).access_notes.find("vignette"), std::string::npos);
  EXPECT_NE(t.facts_for("AT", "motorway", false, {}).access_notes.find("vignette"), std::string::npos);
  EXPECT_EQ(t.facts_for("AT", "residential", true, {}).access_notes, "");
  EXPECT_NE(t.facts_for("ID", "motorway", false, {}).access_notes.find("toll"), std::string::npos);
  EXPECT_NE(t.facts_for("TH", "motorway", false, {}).access_notes.find("motorcycles"), std::string::npos);
  // Country-wide notes apply to every road.
  EXPECT_NE(t.facts_for("SG", "residential", true, {}).access_notes.find("ERP"), std::string::npos);
}

TEST(RulesShipped, GatedOverride) {
  const RuleTable& t = shipped();
  const std::vector<std::pair<std::string, std::string>> areas = {
      {"province", "C03-P07"}, {"city", "C03-P07-T0012"}, {"gated", "C03-P07-T0012-G004"}};
  const RoadFacts f = t.facts_for("MY", "residential", true, areas);
  EXPECT_EQ(f.driving_side, DrivingSide::kLeft);  // inherited from the country
  EXPECT_EQ(f.display_language, "ms");
  EXPECT_EQ(f.speed_limit_kmh, 20);
  EXPECT_NE(f.access_notes.find("no through traffic"), std::string::npos);
  EXPECT_EQ(t.facts_for("MY", "service", false, areas).speed_limit_kmh, 20);
  EXPECT_EQ(t.facts_for("MY", "residential", true, {areas[0], areas[1]}).speed_limit_kmh, std::nullopt);
  // A lower country value for living streets is kept (walking pace in Austria).
  EXPECT_TRUE(t.facts_for("AT", "living_street", true, areas).walking_pace);
  // An unknown country gets only the area values.
  const RoadFacts u = t.facts_for("XX", "residential", true, areas);
  EXPECT_EQ(u.country, nullptr);
  EXPECT_EQ(u.driving_side, DrivingSide::kUnknown);
  EXPECT_EQ(u.display_language, "");
  EXPECT_EQ(u.speed_limit_kmh, 20);
}

// Property: for every country, class and setting the facts are well formed.
TEST(RulesShipped, FactsWellFormedForEveryCountryAndClass) {
  const RuleTable& t = shipped();
  const std::vector<std::string> classes = {
      "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
      "tertiary", "unclassified", "residential", "service", "living_street", "track", "road",
      "footway", "cycleway", "path", "pedestrian", "", "made_up_class"};
  for (const CountryRule& c : t.countries())
    for (const std::string& h : classes)
      for (bool urban : {false, true})
        for (bool gated : {false, true}) {
          SCOPED_TRACE(c.iso2 + " " + h + (urban ? " urban" : " rural") + (gated ? " gated" : ""));
          std::vector<std::pair<std::string, std::string>> areas;
          if (gated) areas.emplace_back("gated", "G1");
          const RoadFacts f = t.facts_for(c.iso2, h, urban, areas);
          EXPECT_EQ(f.country, &c);
          EXPECT_EQ(f.setting, speed_setting_for(h, urban));
          EXPECT_FALSE(f.speed_limit_kmh && f.walking_pace);
          if (f.speed_limit_kmh) {
            EXPECT_GE(*f.speed_limit_kmh, 1);
            EXPECT_LE(*f.speed_limit_kmh, 250);
          }
          if (f.setting == SpeedSetting::kNone) {
            EXPECT_FALSE(f.speed_limit_kmh);
            EXPECT_FALSE(f.walking_pace);
          }
          EXPECT_EQ(f.speed_origin.empty(), !f.speed_limit_kmh && !f.walking_pace);
          if (f.setting != SpeedSetting::kMotorway) {
            for (const std::string& n : c.motorway_access_notes) EXPECT_EQ(f.access_notes.find(n), std::string::npos);
          }
        }
}

// ------------------------------------------------------------------------- class -> setting

TEST(RulesSetting, ClassMapping) {
  EXPECT_EQ(speed_setting_for("motorway", true), SpeedSetting::kMotorway);
  EXPECT_EQ(speed_setting_for("motorway_link", false), SpeedSetting::kMotorway);
  for (const char* h : {"trunk", "trunk_link", "primary", "secondary_link", "tertiary", "unclassified", "road", ""}) {
    EXPECT_EQ(speed_setting_for(h, true), SpeedSetting::kUrban) << h;
    EXPECT_EQ(speed_setting_for(h, false), SpeedSetting::kRural) << h;
  }
  EXPECT_EQ(speed_setting_for("residential", false), SpeedSetting::kResidential);
  EXPECT_EQ(speed_setting_for("service", true), SpeedSetting::kResidential);
  EXPECT_EQ(speed_setting_for("living_street", false), SpeedSetting::kLivingStreet);
  for (const char* h : {"footway", "cycleway", "path", "steps", "pedestrian", "construction"})
    EXPECT_EQ(speed_setting_for(h, true), SpeedSetting::kNone) << h;
  EXPECT_EQ(speed_setting_name(SpeedSetting::kLivingStreet), "living_street");
  EXPECT_EQ(driving_side_name(DrivingSide::kLeft), "left");
  EXPECT_EQ(driving_side_name(DrivingSide::kUnknown), "");
}

// ------------------------------------------------------------------------ override semantics

TEST(RulesOverride, OrderGlobCountryAndNotes) {
  const std::string csv = kHeader +
      "# a comment, then a blank line\n"
      "\n"
      "country,AA,AAA,Alpha,left,xa;en,50,80,110,,,toll everywhere,no bicycles,\n"
      "country,BB,BBB,Beta,right,xb,60,90,,,,,,\n"
      "area,layer=city,,City,,,40,,,,,,,\n"
      "area,layer=gated,,Gated,,,20,20,,20,,no through traffic,,\n"
      "area,id=AA-Z* country=AAA,,Zone of Alpha,right,en,,,,,,toll everywhere;low-emission zone,,\n"
      "area,layer=canton id=B?,,Canton,,fr;xb,,,,,,,,\n";
  const RuleTable t = RuleTable::parse(csv, "t.csv");
  ASSERT_EQ(t.areas().size(), 4u);
  EXPECT_EQ(t.areas()[2].country, "AA");  // ISO3 in key resolved to ISO2

  // Coarse to fine: city then gated, the finer one wins.
  EXPECT_EQ(speed(t, "AA", "primary", true, {{"city", "c1"}, {"gated", "g1"}}), 20);
  EXPECT_EQ(speed(t, "AA", "primary", true, {{"gated", "g1"}, {"city", "c1"}}), 40);
  EXPECT_EQ(t.facts_for("AA", "primary", true, {{"city", "c1"}}).speed_origin, "t.csv:6");

  // id glob and country term; languages and driving side replace; notes accumulate without repeats.
  const RoadFacts z = t.facts_for("AA", "motorway", false, {{"zone", "AA-Z12"}});
  EXPECT_EQ(z.driving_side, DrivingSide::kRight);
  EXPECT_EQ(z.display_language, "en");
  EXPECT_EQ(z.speed_limit_kmh, 110);
  EXPECT_EQ(z.access_notes, "toll everywhere; no bicycles; low-emission zone");
  EXPECT_EQ(t.facts_for("BB", "motorway", false, {{"zone", "AA-Z12"}}).driving_side, DrivingSide::kRight);
  EXPECT_EQ(t.facts_for("BB", "primary", false, {{"zone", "AA-Z12"}}).access_notes, "");  // country= fails
  EXPECT_EQ(t.facts_for("AA", "primary", false, {{"zone", "AA-Y12"}}).driving_side, DrivingSide::kLeft);

  // layer and id terms must both hold; ? matches exactly one character.
  EXPECT_EQ(t.facts_for("BB", "primary", true, {{"canton", "B1"}}).display_language, "fr");
  EXPECT_EQ(t.facts_for("BB", "primary", true, {{"canton", "B12"}}).display_language, "xb");
  EXPECT_EQ(t.facts_for("BB", "primary", true, {{"city", "B1"}}).display_language, "xb");

  // Gated sets residential; living_street falls back to it; motorway keeps the country value.
  EXPECT_EQ(speed(t, "BB", "living_street", true, {{"gated", "g"}}), 20);
  EXPECT_EQ(speed(t, "BB", "living_street", true), 60);
  EXPECT_EQ(speed(t, "BB", "motorway", false), std::nullopt);
}

TEST(RulesOverride, AreaMatchesDirectly) {
  AreaRule a;
  a.layer = "gated";
  a.id_glob = "C03-*-G00?";
  EXPECT_TRUE(a.matches("gated", "C03-P07-T0012-G004", nullptr));
  EXPECT_FALSE(a.matches("gated", "C03-P07-T0012-G0041", nullptr));
  EXPECT_FALSE(a.matches("city", "C03-P07-T0012-G004", nullptr));
  EXPECT_FALSE(a.matches("gated", "C04-P07-T0012-G004", nullptr));
  a.id_glob = "*";
  EXPECT_TRUE(a.matches("gated", "", nullptr));
  a.id_glob = "**a*";
  EXPECT_TRUE(a.matches("gated", "xxa", nullptr));
  EXPECT_FALSE(a.matches("gated", "xxb", nullptr));
}

// ------------------------------------------------------------------------------ display name

TEST(RulesDisplayName, FirstOfficialLanguageTheVariantsHave) {
  const std::vector<std::string> sg = {"en", "ms", "zh", "ta"};
  EXPECT_EQ(display_name("Jalan Besar", {{"zh", "惹兰勿刹"}, {"en", "Jalan Besar Road"}}, sg), "Jalan Besar Road");
  EXPECT_EQ(display_name("x", {{"zh", "惹兰勿刹"}, {"ta", "ஜாலான் புசார்"}}, sg), "惹兰勿刹");
  EXPECT_EQ(display_name("plain", {{"th", "ถนน"}}, sg), "plain");  // not an official language
  EXPECT_EQ(display_name("plain", {}, sg), "plain");
  EXPECT_EQ(display_name("plain", {{"en", ""}, {"ms", "Jalan"}}, sg), "Jalan");  // empty ignored
  EXPECT_EQ(display_name("plain", {{"en", "E"}}, {}), "plain");
  // Subtag extensions match; an exact tag beats an extension in the same language.
  EXPECT_EQ(display_name("p", {{"zh-Hant", "T"}, {"zh-Hans", "S"}}, {"zh"}), "T");
  EXPECT_EQ(display_name("p", {{"zh-Hans", "S"}, {"zh", "Z"}}, {"zh"}), "Z");
  EXPECT_EQ(display_name("p", {{"zhx", "no"}}, {"zh"}), "p");
  EXPECT_EQ(display_name("p", {{"EN", "Upper"}}, {"en"}), "Upper");
  // With the shipped table: Swiss order prefers German, then French.
  const auto& ch = shipped().country("CH")->languages;
  EXPECT_EQ(display_name("Genève", {{"fr", "Genève"}, {"de", "Genf"}}, ch), "Genf");
  EXPECT_EQ(display_name("Genève", {{"fr", "Genève"}, {"it", "Ginevra"}}, ch), "Genève");
}

// --------------------------------------------------------------------------- parser details

TEST(RulesParse, QuotingCommentsCrlfAndBom) {
  const std::string csv = "\xEF\xBB\xBF# comment\r\n" + std::string("  # indented comment\r\n") +
                          kHeader.substr(0, kHeader.size() - 1) + "\r\n" +
                          "country, AA ,AAA,\"Alpha, Republic of\",left,\" xa ; en \",50,,,,,\"a, b; \"\"c\"\"\",,\"note, with \"\"quotes\"\"\"\r\n"
                          "\r\n   \r\n";
  const RuleTable t = RuleTable::parse(csv, "q.csv");
  const CountryRule* a = t.country("AA");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "Alpha, Republic of");
  EXPECT_EQ(a->languages, (std::vector<std::string>{"xa", "en"}));
  EXPECT_EQ(a->access_notes, (std::vector<std::string>{"a, b", "\"c\""}));
  EXPECT_EQ(a->note, "note, with \"quotes\"");
  EXPECT_EQ(a->origin, "q.csv:4");
  EXPECT_EQ(a->speed_urban, (SpeedLimit{50, false}));
  EXPECT_FALSE(a->speed_rural);
}

TEST(RulesParse, ColumnsFoundByNameOptionalOnesMayBeMissing) {
  const RuleTable t = RuleTable::parse(
      "languages,key,scope,driving_side,iso3,speed_rural_kmh\n"
      "fr,FR,country,right,FRA,80\n",
      "min.csv");
  ASSERT_NE(t.country("FRA"), nullptr);
  EXPECT_EQ(speed(t, "FR", "primary", false), 80);
  EXPECT_EQ(speed(t, "FR", "primary", true), std::nullopt);
}

TEST(RulesParse, LoadNamesThePathInErrors) {
  testing::TempDir dir;
  const std::string path = dir.file("rules.csv");
  std::ofstream(path) << kHeader << "country,AA,AAA,A,left,xa,50,80,,,,,,\n"
                      << "country,BB,BBB,B,middle,xb,50,80,,,,,,\n";
  try {
    RuleTable::load(path);
    ADD_FAILURE() << "no error";
  } catch (const RulesError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ":3: column 'driving_side': ", 0), 0u) << e.what();
  }
  EXPECT_THROW(RuleTable::load(dir.file("missing.csv")), RulesError);
}

TEST(RulesParse, MalformedRowsNameFileLineAndColumn) {
  const std::string ok = "country,AA,AAA,A,left,xa,50,80,,,,,,\n";
  // Line 1 is the header, so the first data row is line 2.
  expect_error(kHeader + "country,AA,AAA,A,left,xa,50,80,,,,,\n", 2, "note", "13 fields but the header has 14");
  expect_error(kHeader + "country,AA,AAA,A,left,xa,50,80\n", 2, "speed_motorway_kmh", "missing");
  expect_error(kHeader + "country,AA,AAA,A,left,xa,50,80,,,,,,,extra\n", 2, "note", "past the last column");
  expect_error(kHeader + ok + "country,BB,BBB,B,middle,xb,50,80,,,,,,\n", 3, "driving_side", "unknown value 'middle'");
  expect_error(kHeader + "country,AA,AAA,A,left,xa,fifty,80,,,,,,\n", 2, "speed_urban_kmh", "not a whole number");
  expect_error(kHeader + "country,AA,AAA,A,left,xa,50,80.5,,,,,,\n", 2, "speed_rural_kmh", "not a whole number");
  expect_error(kHeader + "country,AA,AAA,A,left,xa,50,80,0,,,,,\n", 2, "speed_motorway_kmh", "outside [1, 250]");
  expect_error(kHeader + "country,AA,AAA,A,left,xa,50,80,,,999,,,\n", 2, "speed_living_street_kmh", "outside");
  expect_error(kHeader + "nation,AA,AAA,A,left,xa,50,80,,,,,,\n", 2, "scope", "expected country or area");
  expect_error(kHeader + "country,aa,AAA,A,left,xa,50,80,,,,,,\n", 2, "key", "alpha-2");
  expect_error(kHeader + "country,AA,AA,A,left,xa,50,80,,,,,,\n", 2, "iso3", "alpha-3");
  expect_error(kHeader + "country,AA,AAA,A,,xa,50,80,,,,,,\n", 2, "driving_side", "needs a driving side");
  expect_error(kHeader + "country,AA,AAA,A,left,,50,80,,,,,,\n", 2, "languages", "at least one language");
  expect_error(kHeader + "country,AA,AAA,A,left,English,50,80,,,,,,\n", 2, "languages", "BCP-47");
  expect_error(kHeader + ok + "# gap\n" + "country,AA,ABC,A2,left,xa,50,80,,,,,,\n", 4, "key", "already used at line 2");
  expect_error(kHeader + ok + "country,AB,AAA,A2,left,xa,50,80,,,,,,\n", 3, "iso3", "already used at line 2");
  expect_error(kHeader + "area,gated,,G,,,20,,,,,,,\n", 2, "key", "name=value");
  expect_error(kHeader + "area,kind=gated,,G,,,20,,,,,,,\n", 2, "key", "unknown term 'kind'");
  expect_error(kHeader + "area,country=AA,,G,,,20,,,,,,,\n", 2, "key", "layer= or id=");
  expect_error(kHeader + "area,layer=a layer=b,,G,,,20,,,,,,,\n", 2, "key", "given twice");
  expect_error(kHeader + "area,layer=gated,AAA,G,,,20,,,,,,,\n", 2, "iso3", "must be empty");
  expect_error(kHeader + ok + "area,layer=gated country=ZZ,,G,,,20,,,,,,,\n", 3, "key", "not a country of this table");
  expect_error(kHeader + "country,AA,AAA,\"A,left,xa,50,80,,,,,,\n", 2, "", "not closed");
  expect_error(kHeader + "country,AA,AAA,\"A\"x,left,xa,50,80,,,,,,\n", 2, "", "after the closing quote");
}

TEST(RulesParse, MalformedHeader) {
  expect_error("scope,key,iso3,driving_side,languages,colour\n", 1, "colour", "unknown column");
  expect_error("scope,key,iso3,driving_side,languages,key\n", 1, "key", "twice");
  expect_error("scope,key,iso3,driving_side\n", 1, "languages", "required column missing");
  expect_error("scope,,key\n", 1, "", "empty");
  try {
    RuleTable::parse("# only comments\n\n", "empty.csv");
    ADD_FAILURE() << "no error";
  } catch (const RulesError& e) {
    EXPECT_NE(std::string(e.what()).find("empty.csv: no header"), std::string::npos) << e.what();
  }
}

// Property: random printable garbage never crashes the parser; it either parses or throws a
// RulesError that names the source.
TEST(RulesParse, RandomInputEitherParsesOrThrowsRulesError) {
  std::mt19937 rng(12345);
  const std::string alphabet = "abcAB,\"#\n; =*-0123456789leftrightcountryarea\r\t";
  for (int trial = 0; trial < 2000; ++trial) {
    std::string text = trial % 2 ? kHeader : std::string();
    const int n = std::uniform_int_distribution<int>(0, 120)(rng);
    for (int k = 0; k < n; ++k) text += alphabet[rng() % alphabet.size()];
    try {
      RuleTable::parse(text, "fuzz.csv");
    } catch (const RulesError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("fuzz.csv", 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace geoshard
