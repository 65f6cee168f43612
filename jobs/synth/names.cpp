#include "jobs/synth/names.h"

#include <array>
#include <cctype>
#include <span>

#include "jobs/synth/rng.h"

namespace geoshard::synth::detail {
namespace {

template <size_t N>
const char* pick(const std::array<const char*, N>& a, Rng& r) {
  return a[r.below(N)];
}

std::string capitalise(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

// ---- romanised syllables for place names (areas) ----
struct Phonology {
  std::span<const char* const> onset, vowel, coda;
};
constexpr std::array<const char*, 15> kMsOnset{"b", "k", "l", "m", "p", "r", "s", "t", "j", "d", "g", "ng", "ny", "sy", "h"};
constexpr std::array<const char*, 8> kMsVowel{"a", "a", "i", "u", "e", "o", "ai", "au"};
constexpr std::array<const char*, 10> kMsCoda{"", "", "", "n", "ng", "h", "r", "k", "s", "t"};
constexpr std::array<const char*, 17> kThOnset{"b", "ch", "d", "k", "kh", "l", "m", "n", "ph", "p", "r", "s", "th", "t", "w", "y", "ng"};
constexpr std::array<const char*, 10> kThVowel{"a", "a", "i", "u", "ue", "o", "ae", "ai", "ao", "ia"};
constexpr std::array<const char*, 8> kThCoda{"", "", "n", "ng", "m", "k", "t", "p"};
constexpr std::array<const char*, 20> kEnHead{"Marl", "Ash", "Brook", "Clare", "Dun", "Elm", "Fair", "Glen", "Hol", "King",
                                              "Lang", "Mill", "New", "Oak", "Pem", "Red", "Stan", "Thorn", "Wel", "Wood"};
constexpr std::array<const char*, 12> kEnTail{"ton", "field", "ford", "bury", "wick", "ham", "ley", "more", "dale", "port", "side", "view"};

std::string en_word(Rng& r) { return std::string(kEnHead[r.below(kEnHead.size())]) + kEnTail[r.below(kEnTail.size())]; }

std::string syllables(const Phonology& p, Rng& r, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += p.onset[r.below(p.onset.size())];
    s += p.vowel[r.below(p.vowel.size())];
    s += p.coda[r.below(p.coda.size())];
  }
  return capitalise(s);
}

const Phonology& phonology(Lang l) {
  static const Phonology ms{kMsOnset, kMsVowel, kMsCoda};
  static const Phonology th{kThOnset, kThVowel, kThCoda};
  return l == Lang::th ? th : ms;
}

// ---- Vietnamese: syllables with diacritics and their ASCII forms ----
struct Pair {
  const char* utf8;
  const char* ascii;
};
constexpr std::array<Pair, 42> kViPlace{{{"Hà", "Ha"},     {"Nội", "Noi"},   {"Sài", "Sai"},   {"Gòn", "Gon"},
                                         {"Đà", "Da"},     {"Nẵng", "Nang"}, {"Huế", "Hue"},   {"Cần", "Can"},
                                         {"Thơ", "Tho"},   {"Biên", "Bien"}, {"Hòa", "Hoa"},   {"Vũng", "Vung"},
                                         {"Tàu", "Tau"},   {"Quảng", "Quang"}, {"Ninh", "Ninh"}, {"Bình", "Binh"},
                                         {"Dương", "Duong"}, {"Long", "Long"}, {"An", "An"},     {"Tân", "Tan"},
                                         {"Phú", "Phu"},   {"Mỹ", "My"},     {"Thạnh", "Thanh"}, {"Hải", "Hai"},
                                         {"Phòng", "Phong"}, {"Nam", "Nam"}, {"Định", "Dinh"}, {"Thái", "Thai"},
                                         {"Nguyên", "Nguyen"}, {"Lâm", "Lam"}, {"Đồng", "Dong"}, {"Sơn", "Son"},
                                         {"Hưng", "Hung"}, {"Yên", "Yen"},   {"Vĩnh", "Vinh"}, {"Kiên", "Kien"},
                                         {"Giang", "Giang"}, {"Bạc", "Bac"}, {"Liêu", "Lieu"}, {"Cà", "Ca"},
                                         {"Mau", "Mau"},   {"Trà", "Tra"}}};
constexpr std::array<Pair, 14> kViSurname{{{"Nguyễn", "Nguyen"}, {"Trần", "Tran"}, {"Lê", "Le"}, {"Phạm", "Pham"},
                                           {"Hoàng", "Hoang"}, {"Phan", "Phan"}, {"Võ", "Vo"}, {"Đặng", "Dang"},
                                           {"Bùi", "Bui"}, {"Đỗ", "Do"}, {"Hồ", "Ho"}, {"Ngô", "Ngo"},
                                           {"Dương", "Duong"}, {"Lý", "Ly"}}};
constexpr std::array<Pair, 18> kViGiven{{{"Văn", "Van"}, {"Hữu", "Huu"}, {"Đình", "Dinh"}, {"Minh", "Minh"},
                                         {"Trãi", "Trai"}, {"Huệ", "Hue"}, {"Du", "Du"}, {"Lợi", "Loi"},
                                         {"Học", "Hoc"}, {"Trung", "Trung"}, {"Khải", "Khai"}, {"Tri", "Tri"},
                                         {"Phương", "Phuong"}, {"Quyền", "Quyen"}, {"Cừ", "Cu"}, {"Thanh", "Thanh"},
                                         {"Đạo", "Dao"}, {"Xuân", "Xuan"}}};

std::string vi_words(Rng& r, std::span<const Pair> table, int n, std::string& ascii) {
  std::string u;
  ascii.clear();
  for (int i = 0; i < n; ++i) {
    const Pair& p = table[r.below(table.size())];
    if (i) {
      u += ' ';
      ascii += ' ';
    }
    u += p.utf8;
    ascii += p.ascii;
  }
  return u;
}

std::string vi_place(Rng& r, std::string* ascii = nullptr) {
  std::string a;
  std::string u = vi_words(r, kViPlace, 2, a);
  if (ascii) *ascii = a;
  return u;
}

// ---- Thai: script syllables with romanisations ----
constexpr std::array<Pair, 32> kThWord{{{"สุข", "Suk"},     {"ขุม", "khum"},  {"วิท", "wit"},     {"พระ", "Phra"},
                                        {"ราม", "ram"},     {"สี", "Si"},     {"ลม", "lom"},      {"เพชร", "phet"},
                                        {"บุรี", "buri"},   {"นคร", "Nakhon"}, {"ชัย", "chai"},   {"ศรี", "Si"},
                                        {"ทอง", "thong"},   {"หลวง", "luang"}, {"สาย", "sai"},    {"พล", "phon"},
                                        {"โยธิน", "yothin"}, {"รัตน", "rattana"}, {"วงศ์", "wong"}, {"สมุท", "samut"},
                                        {"ประ", "pra"},     {"เจริญ", "charoen"}, {"กรุง", "krung"}, {"เกษม", "kasem"},
                                        {"อโศก", "asok"},   {"สาทร", "sathon"}, {"บาง", "bang"},  {"นา", "na"},
                                        {"แสง", "saeng"},   {"ทวี", "thawi"}, {"วัฒนา", "watthana"}, {"มิตร", "mit"}}};

void th_word(Rng& r, std::string& thai, std::string& roman) {
  const Pair& a = kThWord[r.below(kThWord.size())];
  const Pair& b = kThWord[r.below(kThWord.size())];
  thai = std::string(a.utf8) + b.utf8;
  std::string ra = a.ascii, rb = b.ascii;
  for (auto& ch : rb) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  roman = capitalise(ra + rb);
}

constexpr std::array<const char*, 30> kMsRoot{"Melati", "Cempaka", "Kenanga", "Mawar",   "Seroja",  "Dahlia",
                                              "Anggerik", "Tanjung", "Bukit", "Sungai",  "Kampung", "Permai",
                                              "Indah",  "Jaya",     "Damai",   "Bestari", "Setia",   "Mutiara",
                                              "Intan",  "Delima",   "Harmoni", "Cahaya",  "Sentosa", "Pelangi",
                                              "Budiman", "Gemilang", "Merdeka", "Bunga",  "Raya",    "Baru"};
constexpr std::array<const char*, 6> kMsTitle{"Sultan", "Tun", "Raja", "Tunku", "Dato", "Tan Sri"};
constexpr std::array<const char*, 30> kEnWord{"Orchid", "Marina", "Harbour", "Jade",   "Palm",   "Temple",
                                              "Pagoda", "Mosque", "Victoria", "Albert", "Queens", "Kings",
                                              "Hill",   "River",  "Canal",   "Garden", "Market", "Station",
                                              "Lotus",  "Banyan", "Rain Tree", "Coral", "Mango", "Durian",
                                              "Saffron", "Teak",  "Bamboo",  "Monsoon", "Lagoon", "Cove"};
constexpr std::array<const char*, 7> kEnStreet{" Road", " Street", " Lane", " Drive", " Crescent", " Close", " Walk"};
constexpr std::array<const char*, 3> kEnAvenue{" Avenue", " Road", " Boulevard"};

}  // namespace

const char* lang_code(Lang l) {
  switch (l) {
    case Lang::ms: return "ms";
    case Lang::th: return "th";
    case Lang::vi: return "vi";
    case Lang::en: return "en";
  }
  return "en";
}

std::string country_name(Lang l, uint64_t key) {
  Rng r(hkey(key, 11));
  if (l == Lang::vi) return vi_place(r);
  if (l == Lang::en) return en_word(r) + " Republic";
  std::string s = syllables(phonology(l), r, 2);
  if (l == Lang::ms) return s + (r.chance(0.5) ? "sia" : "");
  return "Ratcha " + s;
}

std::string province_name(Lang l, uint64_t key) {
  Rng r(hkey(key, 12));
  if (l == Lang::vi) return vi_place(r);
  if (l == Lang::en) return en_word(r) + " District";
  std::string s = syllables(phonology(l), r, 2);
  if (l == Lang::th && r.chance(0.4)) return s + (r.chance(0.5) ? " Buri" : " Thani");
  if (l == Lang::ms && r.chance(0.3)) return "Negeri " + s;
  return s;
}

std::string city_name(Lang l, uint64_t key) {
  Rng r(hkey(key, 13));
  if (l == Lang::vi) return (r.chance(0.3) ? "Thành phố " : "") + vi_place(r);
  if (l == Lang::en) return en_word(r);
  std::string s = syllables(phonology(l), r, 1 + static_cast<int>(r.below(2)));
  if (l == Lang::ms) {
    constexpr std::array<const char*, 8> pre{"Kuala ", "Kota ", "Bandar ", "Sungai ", "Tanjung ", "", "", ""};
    return pick(pre, r) + s;
  }
  if (l == Lang::th) {
    constexpr std::array<const char*, 7> pre{"Nakhon ", "Ban ", "Mueang ", "Chiang ", "", "", ""};
    constexpr std::array<const char*, 5> suf{"", " Buri", " Thani", "", ""};
    return pick(pre, r) + s + pick(suf, r);
  }
  return s;
}

std::string gated_name(Lang l, uint64_t key) {
  Rng r(hkey(key, 14));
  switch (l) {
    case Lang::ms: return std::string(r.chance(0.6) ? "Taman " : "Desa ") + pick(kMsRoot, r) + " " + pick(kMsRoot, r);
    case Lang::th: return "Mu Ban " + syllables(phonology(l), r, 1 + static_cast<int>(r.below(2)));
    case Lang::vi: return std::string(r.chance(0.5) ? "Khu dân cư " : "Khu đô thị ") + vi_place(r);
    case Lang::en: return std::string(pick(kEnWord, r)) + (r.chance(0.5) ? " Residences" : " Gardens");
  }
  return {};
}

RoadName avenue_name(Lang l, uint64_t key) {
  Rng r(hkey(key, 21));
  RoadName n;
  switch (l) {
    case Lang::ms: {
      std::string who = std::string(pick(kMsTitle, r)) + " " + syllables(phonology(l), r, 1 + static_cast<int>(r.below(2)));
      n.name = "Jalan " + who;
      n.local = n.name;
      n.en = who + " Road";
      break;
    }
    case Lang::th: {
      std::string t, ro;
      th_word(r, t, ro);
      n.name = "ถนน" + t;
      n.local = n.name;
      n.en = ro + " Road";
      break;
    }
    case Lang::vi: {
      std::string a1, a2;
      std::string s = vi_words(r, kViSurname, 1, a1);
      std::string g = vi_words(r, kViGiven, 1 + static_cast<int>(r.below(2)), a2);
      n.name = "Đường " + s + " " + g;
      n.local = n.name;
      n.en = a1 + " " + a2 + " Street";
      break;
    }
    case Lang::en:
      n.name = std::string(pick(kEnWord, r)) + pick(kEnAvenue, r);
      n.en = n.name;
      break;
  }
  return n;
}

RoadName street_name(Lang l, uint64_t key, int number) {
  Rng r(hkey(key, 22));
  RoadName n;
  const std::string num = std::to_string(number);
  switch (l) {
    case Lang::ms:
      n.name = std::string("Jalan ") + pick(kMsRoot, r) + " " + num;
      if (r.chance(0.5)) n.local = n.name;
      break;
    case Lang::th: {
      std::string t, ro;
      th_word(r, t, ro);
      n.name = "ซอย" + t + " " + num;
      if (r.chance(0.5)) {
        n.local = n.name;
        n.en = "Soi " + ro + " " + num;
      }
      break;
    }
    case Lang::vi:
      if (r.chance(0.5)) {
        n.name = "Đường số " + num;
        n.en = "Street " + num;
      } else {
        std::string a;
        n.name = "Phố " + vi_place(r, &a);
        n.en = a + " Street";
      }
      if (r.chance(0.5)) n.local = n.name;
      if (r.chance(0.5)) n.en.clear();
      break;
    case Lang::en:
      n.name = std::string(pick(kEnWord, r)) + pick(kEnStreet, r);
      if (r.chance(0.5)) n.en = n.name;
      break;
  }
  return n;
}

RoadName route_name(Lang l, int number) {
  RoadName n;
  const std::string num = std::to_string(number);
  switch (l) {
    case Lang::ms: n.name = "Jalan Persekutuan " + num; n.local = n.name; n.en = "Federal Route " + num; break;
    case Lang::th: n.name = "ทางหลวงแผ่นดินหมายเลข " + num; n.local = n.name; n.en = "Highway " + num; break;
    case Lang::vi: n.name = "Quốc lộ " + num; n.local = n.name; n.en = "National Route " + num; break;
    case Lang::en: n.name = "Route " + num; n.en = n.name; break;
  }
  return n;
}

RoadName expressway_name(Lang l, uint64_t key, int number) {
  Rng r(hkey(key, 23));
  RoadName n;
  const std::string num = std::to_string(number);
  switch (l) {
    case Lang::ms: {
      std::string s = syllables(phonology(l), r, 2);
      n.name = "Lebuhraya " + s;
      n.local = n.name;
      n.en = s + " Expressway";
      break;
    }
    case Lang::th: n.name = "ทางหลวงพิเศษหมายเลข " + num; n.local = n.name; n.en = "Motorway " + num; break;
    case Lang::vi: {
      std::string a, b;
      std::string x = vi_place(r, &a), y = vi_place(r, &b);
      n.name = "Cao tốc " + x + " – " + y;
      n.local = n.name;
      n.en = a + " - " + b + " Expressway";
      break;
    }
    case Lang::en: n.name = std::string(pick(kEnWord, r)) + " Expressway"; n.en = n.name; break;
  }
  return n;
}

RoadName village_road_name(Lang l, uint64_t key) {
  Rng r(hkey(key, 24));
  RoadName n;
  switch (l) {
    case Lang::ms: n.name = "Jalan Kampung " + syllables(phonology(l), r, 2); break;
    case Lang::th: {
      std::string t, ro;
      th_word(r, t, ro);
      n.name = "ถนนบ้าน" + t;
      if (r.chance(0.3)) n.en = "Ban " + ro + " Road";
      break;
    }
    case Lang::vi: n.name = "Đường thôn " + vi_place(r); break;
    case Lang::en: n.name = en_word(r) + " Lane"; break;
  }
  if (r.chance(0.3)) n.local = n.name;
  return n;
}

RoadName compound_road_name(Lang l, const std::string& compound, int number) {
  RoadName n;
  const std::string num = std::to_string(number);
  switch (l) {
    case Lang::ms: n.name = "Jalan " + compound + " " + num; break;
    case Lang::th: n.name = compound + " Soi " + num; break;
    case Lang::vi: n.name = "Đường nội bộ " + num; break;
    case Lang::en: n.name = compound + " Lane " + num; break;
  }
  return n;
}

}  // namespace geoshard::synth::detail
