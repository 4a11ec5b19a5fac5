//! Ingest throughput: end-to-end (decode → parse → normalize → identify →
//! store) against bare feed-rs parsing of the same bytes.
//!
//! A plain `harness = false` binary:
//!
//! ```text
//! cargo bench --bench ingest
//! KURATOR_BENCH_FEEDS=100 KURATOR_BENCH_RUNS=1 cargo bench --bench ingest   # smoke run
//! ```
//!
//! The corpus is synthetic and deterministic (seeded splitmix64): 2,000 feeds
//! × 35 items of German municipal / e-government news. About 70% RSS 2.0
//! (some declared and encoded ISO-8859-1, the rest UTF-8), 20% Atom 1.0 and
//! 10% RSS 1.0 (RDF); summaries of 2–4 sentences, most with a little HTML
//! (`<p>`, `<a href="/presse/…">`, `<strong>`), some items with a full
//! `content:encoded` / Atom `content`, links with `utm_*` tracking parameters.
//!
//! Environment:
//! * `KURATOR_BENCH_FEEDS`: number of feeds (default 2000);
//! * `KURATOR_BENCH_RUNS`: repetitions of each measurement (default 3);
//! * `KURATOR_BENCH_ONLY`: run only these measurements (comma-separated),
//!   for profilers and comparisons: `bare`, `single`, `reingest`, `pipe1`,
//!   `pipe2`, `shared2`, `pipe2tag`, `pipe2dedup` or `stages`.
//!   `pipe2,pipe2dedup` measures what clustering costs: the two run one
//!   after the other in every round, and the cost is the median of the
//!   rounds' ratios, so a machine that drifts slower during the run skews
//!   neither;
//! * `KURATOR_BENCH_PAGE_SIZE`, `KURATOR_BENCH_PRAGMAS`: for storage
//!   experiments only: the page size the database file is created with
//!   (before `Store::open` asks for its own), and SQL run on the connection
//!   after `Store::open` (e.g. `PRAGMA wal_autocheckpoint = 10000`).

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "made-up test data and counts, not values from outside"
)]

/// The allocator `kurator` itself uses (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use kurator::dedup::Identified;
use kurator::fetch::Validators;
use kurator::store::{Counts, FetchRecord, MAX_BATCH, PendingFetch, Store};
use sha2::{Digest, Sha256};
use url::Url;

const ITEMS_PER_FEED: usize = 35;
const DEFAULT_FEEDS: usize = 2000;
const DEFAULT_RUNS: usize = 3;
const SEED: u64 = 0x6b75_7261_746f_7221;
/// 2026-04-01T00:00:00Z; item dates lie up to three days before it (newest first).
const BASE_TIME: i64 = 1_775_001_600;
/// The `now` handed to the pipeline: one day after `BASE_TIME`, so no date is in the future.
pub(crate) const NOW: i64 = BASE_TIME + 86_400;
/// Items in flight between the processing threads and the storing thread, in feeds.
const CHANNEL_BOUND: usize = 64;

// ---------------------------------------------------------------------------
// Deterministic randomness

/// splitmix64: tiny, fast, good enough for test data.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn pick<'a>(&mut self, list: &'a [&'a str]) -> &'a str {
        list[self.below(list.len())]
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
}

// ---------------------------------------------------------------------------
// Word lists

/// (display name, host label)
const CITIES: &[(&str, &str)] = &[
    ("Darmstadt", "darmstadt"),
    ("Göttingen", "goettingen"),
    ("Würzburg", "wuerzburg"),
    ("Lüneburg", "lueneburg"),
    ("Fürth", "fuerth"),
    ("Düren", "dueren"),
    ("Gießen", "giessen"),
    ("Lörrach", "loerrach"),
    ("Tübingen", "tuebingen"),
    ("Mülheim an der Ruhr", "muelheim-ruhr"),
    ("Köln", "koeln"),
    ("München", "muenchen"),
    ("Nürnberg", "nuernberg"),
    ("Osnabrück", "osnabrueck"),
    ("Saarbrücken", "saarbruecken"),
    ("Lübeck", "luebeck"),
    ("Bünde", "buende"),
    ("Überlingen", "ueberlingen"),
    ("Schwäbisch Hall", "schwaebisch-hall"),
    ("Bad Kissingen", "bad-kissingen"),
    ("Freiburg im Breisgau", "freiburg"),
    ("Kassel", "kassel"),
    ("Erlangen", "erlangen"),
    ("Oldenburg", "oldenburg"),
    ("Paderborn", "paderborn"),
    ("Rüsselsheim am Main", "ruesselsheim"),
    ("Weißenfels", "weissenfels"),
    ("Meißen", "meissen"),
    ("Rheinfelden", "rheinfelden"),
    ("Bitterfeld-Wolfen", "bitterfeld-wolfen"),
    ("Landkreis Märkisch-Oderland", "maerkisch-oderland"),
    ("Kreis Düren", "kreis-dueren"),
];

const SUBJECTS: &[&str] = &[
    "Stadtrat",
    "Gemeinderat",
    "Kreistag",
    "Bauausschuss",
    "Finanzausschuss",
    "Haupt- und Finanzausschuss",
    "Ordnungsamt",
    "Jugendamt",
    "Landratsamt",
    "Bürgeramt",
    "Umweltdezernat",
    "Ortsbeirat",
    "Magistrat",
    "Sozialausschuss",
    "Stadtplanungsamt",
    "Tiefbauamt",
];

const TITLE_VERBS: &[&str] = &[
    "beschließt",
    "prüft",
    "startet",
    "verschiebt",
    "genehmigt",
    "plant",
    "erweitert",
    "fördert",
    "diskutiert",
    "verabschiedet",
    "überarbeitet",
    "präsentiert",
];

const OBJECTS: &[&str] = &[
    "Haushalt 2026",
    "Radwegekonzept",
    "Bebauungsplan „Am Mühlbach“",
    "Digitalisierungsstrategie",
    "Kita-Ausbau",
    "Straßenreinigungssatzung",
    "Klimaschutzkonzept",
    "OZG-Umsetzung",
    "Grundsteuerreform",
    "Schulsanierung",
    "Öffnungszeiten des Bürgerbüros",
    "Hochwasserschutz",
    "Glasfaserausbau",
    "kommunale Wärmeplanung",
    "Parkraumbewirtschaftung",
    "Lärmaktionsplan",
    "Sanierung der Großsporthalle",
    "Förderprogramm für Dachbegrünung",
    "elektronische Akte",
    "Ausbau der Ganztagsbetreuung",
];

const TARGETS: &[&str] = &[
    "Bürgerservice",
    "Familien",
    "Seniorinnen und Senioren",
    "Gewerbetreibende",
    "die Innenstadt",
    "den Stadtteil Süd",
    "Grundschulen",
    "Sportvereine",
    "Pendlerinnen und Pendler",
    "Geflüchtete",
    "Menschen mit Behinderung",
    "Auszubildende",
    "Ehrenamtliche",
];

const PARTICIPLES: &[&str] = &[
    "beschlossen",
    "vertagt",
    "ausführlich beraten",
    "einstimmig gebilligt",
    "zur Überarbeitung zurückverwiesen",
    "auf den Weg gebracht",
];

const STREETS: &[&str] = &[
    "Hauptstraße",
    "Bahnhofstraße",
    "Schloßstraße",
    "Mühlweg",
    "Goethestraße",
    "Friedrich-Ebert-Straße",
    "Lindenstraße",
    "Am Rathausplatz",
    "Gartenstraße",
    "Große Bleiche",
    "Königstraße",
    "Weißdornweg",
];

const MONTHS: &[&str] = &[
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];

const CATEGORIES: &[&str] = &[
    "Rathaus",
    "Finanzen",
    "Bauen & Wohnen",
    "Verkehr",
    "Umwelt",
    "Soziales",
    "Bildung",
    "Kultur",
    "Digitalisierung",
    "E-Government",
    "Wirtschaft",
    "Sicherheit & Ordnung",
    "Gesundheit",
    "Bürgerbeteiligung",
];

const AUTHORS: &[&str] = &[
    "Pressestelle",
    "Presse- und Öffentlichkeitsarbeit",
    "Amt für Kommunikation",
    "Redaktion Stadtportal",
    "Jörg Schäfer",
    "Sabine Müller-Weiß",
];

// ---------------------------------------------------------------------------
// Text generation

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Rss2,
    Atom,
    Rdf,
}

/// One generated item, before it is serialized in a feed format.
struct ItemData {
    id: u64,
    title: String,
    link: String,
    summary_html: String,
    content_html: Option<String>,
    categories: Vec<&'static str>,
    author: &'static str,
    published: i64,
}

fn sentence(rng: &mut Rng, city: &str) -> String {
    let day = rng.range(1, 28);
    let month = rng.pick(MONTHS);
    match rng.below(12) {
        0 => format!(
            "Der {} hat in seiner Sitzung am {day}. {month} die Vorlage zur {} {}.",
            rng.pick(SUBJECTS),
            rng.pick(OBJECTS),
            rng.pick(PARTICIPLES)
        ),
        1 => format!(
            "Die Maßnahme kostet rund {},{} Millionen Euro und soll bis {month} {} abgeschlossen sein.",
            rng.range(1, 48),
            rng.range(1, 9),
            rng.range(2026, 2029)
        ),
        2 => format!(
            "Bürgerinnen und Bürger können sich ab sofort im Bürgerbüro in der {} {} informieren.",
            rng.pick(STREETS),
            rng.range(1, 120)
        ),
        3 => format!(
            "Nach Angaben der Stadtverwaltung {city} profitieren davon vor allem {}.",
            rng.pick(TARGETS)
        ),
        4 => format!(
            "Anträge müssen bis zum {day}. {month} schriftlich oder über das Serviceportal eingereicht werden."
        ),
        5 => format!(
            "Im Mittelpunkt stehen {} und die Frage, wie {} künftig besser erreicht werden können.",
            rng.pick(OBJECTS),
            rng.pick(TARGETS)
        ),
        6 => format!(
            "Der Beschluss fiel mit großer Mehrheit; lediglich {} Mitglieder stimmten dagegen.",
            rng.range(2, 9)
        ),
        7 => format!(
            "Die öffentliche Auslegung der Unterlagen läuft vom {day}. bis {}. {month} im Technischen Rathaus.",
            (day + 14).min(31)
        ),
        8 => format!(
            "Während der Bauarbeiten ist die {} zwischen Marktplatz und Schulzentrum voll gesperrt; Umleitungen sind ausgeschildert.",
            rng.pick(STREETS)
        ),
        9 => format!(
            "Oberbürgermeisterin {} betonte, die Verwaltung werde schneller, digitaler und bürgernäher.",
            rng.pick(&["Schröder", "Weißgerber", "Köhler", "Brückner", "Özdemir"])
        ),
        10 => format!(
            "Für Rückfragen steht das Team des {} montags bis donnerstags von 8 bis 16 Uhr zur Verfügung.",
            rng.pick(SUBJECTS)
        ),
        _ => format!(
            "Gefördert wird das Vorhaben mit Mitteln des Landes in Höhe von {}.{:03} Euro – ein Plus von {} Prozent gegenüber dem Vorjahr.",
            rng.range(12, 950),
            rng.range(0, 999),
            rng.range(3, 40)
        ),
    }
}

/// A paragraph of 2–4 sentences, some with `<strong>` or a relative link.
fn html_paragraph(rng: &mut Rng, city: &str, id: u64) -> String {
    let count = rng.range(2, 4);
    let mut out = String::from("<p>");
    for i in 0..count {
        if i > 0 {
            out.push(' ');
        }
        let s = sentence(rng, city);
        match rng.below(6) {
            0 => {
                out.push_str("<strong>Wichtig:</strong> ");
                out.push_str(&s);
            }
            1 => {
                out.push_str(&s);
                out.push_str(&format!(
                    " Weitere Informationen gibt es <a href=\"/presse/{}\">auf der Themenseite</a>.",
                    id % 1000 + rng.range(1, 400) as u64
                ));
            }
            _ => out.push_str(&s),
        }
    }
    out.push_str("</p>");
    out
}

fn plain_summary(rng: &mut Rng, city: &str) -> String {
    let count = rng.range(2, 4);
    (0..count)
        .map(|_| sentence(rng, city))
        .collect::<Vec<_>>()
        .join(" ")
}

fn content_html(rng: &mut Rng, city: &str, id: u64) -> String {
    let mut out = String::new();
    for i in 0..rng.range(1, 3) {
        if i == 1 && rng.percent(40) {
            out.push_str(&format!(
                "<h3>{} im Überblick</h3><ul><li>{}</li><li>{}</li><li>{}</li></ul>",
                rng.pick(OBJECTS),
                rng.pick(TARGETS),
                rng.pick(TARGETS),
                rng.pick(TARGETS)
            ));
        }
        if i == 0 && rng.percent(30) {
            out.push_str(&format!(
                "<p><img src=\"/bilder/presse/{id}.jpg\" alt=\"Blick auf das Rathaus\" width=\"640\" height=\"360\"></p>"
            ));
        }
        out.push_str(&html_paragraph(rng, city, id));
    }
    out
}

fn title(rng: &mut Rng) -> String {
    match rng.below(6) {
        0..=2 => format!(
            "{} {} {} für {}",
            rng.pick(SUBJECTS),
            rng.pick(TITLE_VERBS),
            rng.pick(OBJECTS),
            rng.pick(TARGETS)
        ),
        3 => format!(
            "{}: {} {} Änderungen",
            rng.pick(OBJECTS),
            rng.pick(SUBJECTS),
            rng.pick(TITLE_VERBS)
        ),
        4 => format!(
            "Straßensperrung in der {} ab {}. {}",
            rng.pick(STREETS),
            rng.range(1, 28),
            rng.pick(MONTHS)
        ),
        _ => format!(
            "Öffentliche Bekanntmachung: {} & Beteiligung der Öffentlichkeit",
            rng.pick(OBJECTS)
        ),
    }
}

/// ASCII slug of a German title, for URLs.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            c if c.is_ascii_alphanumeric() => out.push(c),
            _ => {
                if !out.ends_with('-') {
                    out.push('-');
                }
            }
        }
    }
    out.trim_matches('-').chars().take(60).collect()
}

/// HTML inside an XML element: half as CDATA, half entity-escaped, as real CMSs do.
fn embed_html(html: &str, cdata: bool) -> String {
    if cdata {
        format!("<![CDATA[{html}]]>")
    } else {
        kurator::normalize::sanitize::escape_text(html)
    }
}

// ---------------------------------------------------------------------------
// Dates

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, usize, usize) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as usize;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as usize;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

struct Local {
    year: i64,
    month: usize,
    day: usize,
    weekday: usize,
    hour: i64,
    minute: i64,
    second: i64,
    offset_minutes: i64,
}

/// Local time in Germany (CEST from April to October, CET otherwise; close enough).
fn german_time(t: i64) -> Local {
    let (_, month_utc, _) = civil_from_days(t.div_euclid(86_400));
    let offset_minutes = if (4..=10).contains(&month_utc) {
        120
    } else {
        60
    };
    local_at(t, offset_minutes)
}

/// The calendar fields of instant `t` at a fixed offset from UTC.
fn local_at(t: i64, offset_minutes: i64) -> Local {
    let local = t + offset_minutes * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Local {
        year,
        month,
        day,
        weekday: (days + 4).rem_euclid(7) as usize,
        hour: secs / 3600,
        minute: secs / 60 % 60,
        second: secs % 60,
        offset_minutes,
    }
}

/// `Mon, 13 Apr 2026 10:00:00 +0200`, or in GMT.
fn rfc822(t: i64, gmt: bool) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let l = if gmt { local_at(t, 0) } else { german_time(t) };
    let zone = if gmt {
        "GMT".to_string()
    } else {
        format!("+{:02}{:02}", l.offset_minutes / 60, l.offset_minutes % 60)
    };
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} {zone}",
        DAYS[l.weekday],
        l.day,
        MON[l.month - 1],
        l.year,
        l.hour,
        l.minute,
        l.second
    )
}

/// `2026-04-13T10:00:00+02:00`
fn rfc3339(t: i64) -> String {
    let l = german_time(t);
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}+{:02}:{:02}",
        l.year,
        l.month,
        l.day,
        l.hour,
        l.minute,
        l.second,
        l.offset_minutes / 60,
        l.offset_minutes % 60
    )
}

// ---------------------------------------------------------------------------
// Feeds

pub(crate) struct Feed {
    pub(crate) source_id: String,
    pub(crate) url: Url,
    url_str: String,
    pub(crate) content_type: Option<&'static str>,
    format: Format,
    latin1: bool,
    pub(crate) bytes: Vec<u8>,
    /// Serialized size of each item (its `<item>`/`<entry>` element).
    item_sizes: Vec<usize>,
    with_content: usize,
}

fn make_item(rng: &mut Rng, host: &str, city: &str, feed_index: usize, i: usize) -> ItemData {
    let id = 100_000 + feed_index as u64 * 100 + i as u64;
    let title = title(rng);
    let summary_html = if rng.percent(65) {
        html_paragraph(rng, city, id)
    } else {
        plain_summary(rng, city)
    };
    let content_html = rng.percent(15).then(|| content_html(rng, city, id));
    let mut categories = Vec::new();
    for _ in 0..rng.range(1, 3) {
        let c = rng.pick(CATEGORIES);
        if !categories.contains(&c) {
            categories.push(c);
        }
    }
    let link = format!(
        "https://www.{host}.de/presse/meldungen/{}-{id}.html?utm_source=rss&utm_medium=feed&utm_campaign=presse",
        slug(&title)
    );
    ItemData {
        id,
        title,
        link,
        summary_html,
        content_html,
        categories,
        author: rng.pick(AUTHORS),
        // Newest first, as feeds list them.
        published: BASE_TIME - (i as i64) * 7_200 - rng.below(3_600) as i64,
    }
}

fn rss2_item(rng: &mut Rng, item: &ItemData, host: &str, gmt: bool) -> String {
    let cdata = rng.percent(50);
    let mut out = String::with_capacity(2048);
    out.push_str("    <item>\n");
    out.push_str(&format!(
        "      <title>{}</title>\n",
        kurator::normalize::sanitize::escape_text(&item.title)
    ));
    out.push_str(&format!(
        "      <link>{}</link>\n",
        kurator::normalize::sanitize::escape_text(&item.link)
    ));
    if rng.percent(80) {
        out.push_str(&format!(
            "      <guid isPermaLink=\"false\">{host}-presse-{}</guid>\n",
            item.id
        ));
    } else {
        out.push_str(&format!(
            "      <guid isPermaLink=\"true\">https://www.{host}.de/presse/{}</guid>\n",
            item.id
        ));
    }
    out.push_str(&format!(
        "      <pubDate>{}</pubDate>\n",
        rfc822(item.published, gmt)
    ));
    for c in &item.categories {
        out.push_str(&format!(
            "      <category>{}</category>\n",
            kurator::normalize::sanitize::escape_text(c)
        ));
    }
    out.push_str(&format!(
        "      <dc:creator>{}</dc:creator>\n",
        kurator::normalize::sanitize::escape_text(item.author)
    ));
    out.push_str(&format!(
        "      <description>{}</description>\n",
        embed_html(&item.summary_html, cdata)
    ));
    if let Some(content) = &item.content_html {
        out.push_str(&format!(
            "      <content:encoded>{}</content:encoded>\n",
            embed_html(content, cdata)
        ));
    }
    out.push_str("    </item>\n");
    out
}

fn atom_entry(rng: &mut Rng, item: &ItemData, host: &str) -> String {
    let mut out = String::with_capacity(2048);
    out.push_str("  <entry>\n");
    out.push_str(&format!(
        "    <title type=\"text\">{}</title>\n",
        kurator::normalize::sanitize::escape_text(&item.title)
    ));
    out.push_str(&format!(
        "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        kurator::normalize::sanitize::escape_text(&item.link)
    ));
    out.push_str(&format!(
        "    <id>tag:www.{host}.de,2026:presse/{}</id>\n",
        item.id
    ));
    out.push_str(&format!(
        "    <published>{}</published>\n",
        rfc3339(item.published)
    ));
    out.push_str(&format!(
        "    <updated>{}</updated>\n",
        rfc3339(item.published + rng.below(2) as i64 * 1800)
    ));
    out.push_str(&format!(
        "    <author><name>{}</name></author>\n",
        kurator::normalize::sanitize::escape_text(item.author)
    ));
    for c in &item.categories {
        out.push_str(&format!(
            "    <category term=\"{}\"/>\n",
            kurator::normalize::sanitize::escape_text(c)
        ));
    }
    out.push_str(&format!(
        "    <summary type=\"html\">{}</summary>\n",
        kurator::normalize::sanitize::escape_text(&item.summary_html)
    ));
    if let Some(content) = &item.content_html {
        out.push_str(&format!(
            "    <content type=\"html\">{}</content>\n",
            kurator::normalize::sanitize::escape_text(content)
        ));
    }
    out.push_str("  </entry>\n");
    out
}

fn rdf_item(item: &ItemData, host: &str) -> String {
    let about = format!("https://www.{host}.de/presse/{}", item.id);
    let mut out = String::with_capacity(2048);
    out.push_str(&format!("  <item rdf:about=\"{about}\">\n"));
    out.push_str(&format!(
        "    <title>{}</title>\n",
        kurator::normalize::sanitize::escape_text(&item.title)
    ));
    out.push_str(&format!(
        "    <link>{}</link>\n",
        kurator::normalize::sanitize::escape_text(&item.link)
    ));
    out.push_str(&format!(
        "    <description>{}</description>\n",
        kurator::normalize::sanitize::escape_text(&item.summary_html)
    ));
    if let Some(content) = &item.content_html {
        out.push_str(&format!(
            "    <content:encoded>{}</content:encoded>\n",
            embed_html(content, true)
        ));
    }
    out.push_str(&format!(
        "    <dc:date>{}</dc:date>\n",
        rfc3339(item.published)
    ));
    out.push_str(&format!(
        "    <dc:creator>{}</dc:creator>\n",
        kurator::normalize::sanitize::escape_text(item.author)
    ));
    for c in &item.categories {
        out.push_str(&format!(
            "    <dc:subject>{}</dc:subject>\n",
            kurator::normalize::sanitize::escape_text(c)
        ));
    }
    out.push_str("  </item>\n");
    out
}

pub(crate) fn make_feed(rng: &mut Rng, index: usize) -> Feed {
    let (city, host) = CITIES[index % CITIES.len()];
    let roll = rng.below(100);
    let format = match roll {
        0..70 => Format::Rss2,
        70..90 => Format::Atom,
        _ => Format::Rdf,
    };
    // About one RSS 2.0 feed in seven is served as ISO-8859-1 (really windows-1252).
    let latin1 = format == Format::Rss2 && rng.percent(15);
    let ext = match format {
        Format::Rss2 => "rss",
        Format::Atom => "atom",
        Format::Rdf => "rdf",
    };
    let url_str = format!("https://www.{host}.de/presse/feed-{}.{ext}", index + 1);
    let url = Url::parse(&url_str).expect("valid feed URL");
    let items: Vec<ItemData> = (0..ITEMS_PER_FEED)
        .map(|i| make_item(rng, host, city, index, i))
        .collect();
    let with_content = items.iter().filter(|i| i.content_html.is_some()).count();
    let updated = items.first().map_or(BASE_TIME, |i| i.published);
    let site = format!("https://www.{host}.de/presse/");

    let mut item_sizes = Vec::with_capacity(items.len());
    let mut doc = String::with_capacity(ITEMS_PER_FEED * 1400 + 1024);
    let content_type = match format {
        Format::Rss2 => {
            let gmt = rng.percent(20);
            let encoding = if latin1 { "ISO-8859-1" } else { "UTF-8" };
            doc.push_str(&format!(
                "<?xml version=\"1.0\" encoding=\"{encoding}\"?>\n\
                 <rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\" \
                 xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" \
                 xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n  <channel>\n\
                 \x20   <title>Stadt {city} – Pressemitteilungen</title>\n\
                 \x20   <link>{site}</link>\n\
                 \x20   <description>Aktuelle Meldungen der Stadtverwaltung {city}</description>\n\
                 \x20   <language>de-de</language>\n\
                 \x20   <lastBuildDate>{}</lastBuildDate>\n\
                 \x20   <atom:link href=\"{url_str}\" rel=\"self\" type=\"application/rss+xml\"/>\n",
                rfc822(updated, gmt)
            ));
            for item in &items {
                let xml = rss2_item(rng, item, host, gmt);
                item_sizes.push(xml.len());
                doc.push_str(&xml);
            }
            doc.push_str("  </channel>\n</rss>\n");
            if latin1 {
                if rng.percent(50) {
                    Some("application/rss+xml; charset=ISO-8859-1")
                } else {
                    Some("text/xml")
                }
            } else {
                *[
                    Some("application/rss+xml; charset=utf-8"),
                    Some("application/rss+xml"),
                    Some("text/xml; charset=UTF-8"),
                    None,
                ]
                .get(rng.below(4))
                .expect("in range")
            }
        }
        Format::Atom => {
            doc.push_str(&format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
                 <feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"de\">\n\
                 \x20 <title>{city}: Neuigkeiten aus dem Rathaus</title>\n\
                 \x20 <subtitle>Pressemitteilungen und Bekanntmachungen</subtitle>\n\
                 \x20 <link rel=\"alternate\" href=\"{site}\"/>\n\
                 \x20 <link rel=\"self\" href=\"{url_str}\"/>\n\
                 \x20 <id>tag:www.{host}.de,2026:presse/{}</id>\n\
                 \x20 <updated>{}</updated>\n\
                 \x20 <author><name>Stadt {city}</name></author>\n",
                index + 1,
                rfc3339(updated)
            ));
            for item in &items {
                let xml = atom_entry(rng, item, host);
                item_sizes.push(xml.len());
                doc.push_str(&xml);
            }
            doc.push_str("</feed>\n");
            Some("application/atom+xml")
        }
        Format::Rdf => {
            doc.push_str(&format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                 <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" \
                 xmlns=\"http://purl.org/rss/1.0/\" \
                 xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
                 xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\n\
                 \x20 <channel rdf:about=\"{url_str}\">\n\
                 \x20   <title>Amtsblatt {city}</title>\n\
                 \x20   <link>{site}</link>\n\
                 \x20   <description>Amtliche Bekanntmachungen der Stadt {city}</description>\n\
                 \x20   <dc:date>{}</dc:date>\n\
                 \x20   <items>\n      <rdf:Seq>\n",
                rfc3339(updated)
            ));
            for item in &items {
                doc.push_str(&format!(
                    "        <rdf:li rdf:resource=\"https://www.{host}.de/presse/{}\"/>\n",
                    item.id
                ));
            }
            doc.push_str("      </rdf:Seq>\n    </items>\n  </channel>\n");
            for item in &items {
                let xml = rdf_item(item, host);
                item_sizes.push(xml.len());
                doc.push_str(&xml);
            }
            doc.push_str("</rdf:RDF>\n");
            Some("application/rdf+xml")
        }
    };

    let bytes = if latin1 {
        let (encoded, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&doc);
        assert!(!unmappable, "the corpus only uses windows-1252 characters");
        encoded.into_owned()
    } else {
        doc.into_bytes()
    };
    Feed {
        source_id: format!("feed-{:04}", index + 1),
        url,
        url_str,
        content_type,
        format,
        latin1,
        bytes,
        item_sizes,
        with_content,
    }
}

/// The synthetic corpus; benches/tagging.rs tags its items too.
pub(crate) fn make_corpus(feeds: usize) -> Vec<Feed> {
    let mut rng = Rng(SEED);
    (0..feeds).map(|i| make_feed(&mut rng, i)).collect()
}

// ---------------------------------------------------------------------------
// Measurements

/// A fresh database file in `dir`; removed (with its WAL) by [`remove_db`].
fn fresh_db(dir: &Path, name: &str) -> (Store, PathBuf) {
    let path = dir.join(format!("{name}.sqlite"));
    remove_db(&path);
    if let Ok(size) = std::env::var("KURATOR_BENCH_PAGE_SIZE") {
        // The page size is fixed when the file is first written; switching to
        // WAL writes it, so `Store::open`'s own `PRAGMA page_size` no longer applies.
        let conn = rusqlite::Connection::open(&path).expect("create the database");
        conn.execute_batch(&format!(
            "PRAGMA page_size = {}; PRAGMA journal_mode = WAL;",
            size.trim()
                .parse::<u32>()
                .expect("KURATOR_BENCH_PAGE_SIZE is a number")
        ))
        .expect("set the page size");
    }
    let mut store = Store::open(&path).expect("open the store");
    // Clustering is measured in a series of its own (`pipe2dedup`).
    store.set_dedup(kurator::dedup::Settings {
        mode: kurator::dedup::Mode::Off,
        ..Default::default()
    });
    if let Ok(sql) = std::env::var("KURATOR_BENCH_PRAGMAS") {
        store
            .connection()
            .execute_batch(&sql)
            .expect("KURATOR_BENCH_PRAGMAS");
    }
    (store, path)
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Size of the database with its WAL (the WAL is checkpointed when the last connection closes).
fn db_size(path: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|suffix| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            std::fs::metadata(PathBuf::from(p)).map_or(0, |m| m.len())
        })
        .sum()
}

fn success_record(feed: &Feed) -> FetchRecord {
    FetchRecord::Success {
        feed_ttl: None,
        fresh_until: None,
        status: 200,
        validators: Some(Validators::default()),
        body_sha256: None,
        effective_url: feed.url_str.clone(),
        moved_to: None,
    }
}

fn store_items(store: &mut Store, feed: &Feed, items: &mut [Identified]) -> Counts {
    store
        .record_fetch(
            &feed.source_id,
            &feed.url_str,
            &success_record(feed),
            items,
            NOW,
        )
        .expect("record_fetch")
}

/// `tagged`: also match the shipped topics (the tag stage of issue 3); the
/// ingest targets of issue 2 are measured without it.
fn process(feed: &Feed, bytes: Vec<u8>, tagged: bool) -> Vec<Identified> {
    process_dedup(feed, bytes, tagged, None)
}

/// [`process`], with `seen` also the keys clustering compares new items by
/// (as `kurator fetch` and the daemon compute them: not for the items of
/// the source's previous body).
fn process_dedup(
    feed: &Feed,
    bytes: Vec<u8>,
    tagged: bool,
    seen: Option<&kurator::dedup::SeenItems>,
) -> Vec<Identified> {
    static NO_TOPICS: std::sync::OnceLock<kurator::rules::TopicSet> = std::sync::OnceLock::new();
    let topics = if tagged {
        shipped_topics()
    } else {
        NO_TOPICS.get_or_init(kurator::rules::TopicSet::default)
    };
    let tagger = kurator::tag::Tagger {
        topics,
        source_id: &feed.source_id,
        source_tags: &[],
    };
    let mut items = kurator::ingest::process(&tagger, bytes, feed.content_type, &feed.url, NOW)
        .map(|p| p.items)
        .unwrap_or_else(|err| panic!("{}: {err}", feed.source_id));
    if let Some(seen) = seen {
        seen.add_keys_of_new(&feed.source_id, &mut items);
    }
    items
}

/// The topics of the shipped `feeds.toml`: ingest includes tagging.
fn shipped_topics() -> &'static kurator::rules::TopicSet {
    static TOPICS: std::sync::OnceLock<kurator::rules::TopicSet> = std::sync::OnceLock::new();
    TOPICS.get_or_init(|| {
        kurator::config::Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds.toml"))
            .expect("the shipped feeds.toml is valid")
            .topics
    })
}

fn add(total: &mut Counts, counts: Counts) {
    total.new += counts.new;
    total.updated += counts.updated;
    total.unchanged += counts.unchanged;
}

/// The bodies, copied before the clock starts (`process` takes ownership, as
/// it does of a fetched body).
fn bodies(corpus: &[Feed]) -> Vec<Vec<u8>> {
    corpus.iter().map(|f| f.bytes.clone()).collect()
}

/// Bare feed-rs over the raw bytes (feed-rs decodes the declared charset itself).
fn bare_parse(corpus: &[Feed]) -> (Duration, usize) {
    let parser = feed_rs::parser::Builder::new()
        .sanitize_content(false)
        .build();
    let started = Instant::now();
    let mut entries = 0;
    for feed in corpus {
        let parsed = parser
            .parse(&feed.bytes[..])
            .unwrap_or_else(|err| panic!("feed-rs on {}: {err}", feed.source_id));
        entries += parsed.entries.len();
    }
    (started.elapsed(), entries)
}

/// feed-rs configured as `kurator::parse` configures it (a parser per feed
/// with its `base_uri`, no generated ids) over the decoded UTF-8 text, without
/// kurator's checks and repairs around it.
fn configured_parse(corpus: &[Feed], texts: &[String]) -> (Duration, usize) {
    let started = Instant::now();
    let mut entries = 0;
    for (feed, text) in corpus.iter().zip(texts) {
        let parser = feed_rs::parser::Builder::new()
            .base_uri(Some(feed.url.as_str()))
            .id_generator(|_, _, _| String::new())
            .sanitize_content(false)
            .build();
        let parsed = parser
            .parse(text.as_bytes())
            .unwrap_or_else(|err| panic!("feed-rs on {}: {err}", feed.source_id));
        entries += parsed.entries.len();
    }
    (started.elapsed(), entries)
}

/// Checks, untimed, that feed-rs reads the ISO-8859-1 feeds as such (it
/// decodes the declared charset itself), so both sides parse the same text.
fn check_bare_decoding(corpus: &[Feed]) {
    for feed in corpus.iter().filter(|f| f.latin1) {
        let parsed = feed_rs::parser::parse(&feed.bytes[..]).expect("feed-rs parses");
        for entry in &parsed.entries {
            let title = &entry.title.as_ref().expect("title").content;
            assert!(
                !title.contains('\u{fffd}'),
                "{}: feed-rs mis-decoded {title:?}",
                feed.source_id
            );
        }
    }
}

/// One thread: process, then store, feed after feed.
fn single(corpus: &[Feed], store: &mut Store) -> (Duration, Counts) {
    let inputs = bodies(corpus);
    let started = Instant::now();
    let mut total = Counts::default();
    for (feed, bytes) in corpus.iter().zip(inputs) {
        let mut items = process(feed, bytes, false);
        add(&mut total, store_items(store, feed, &mut items));
    }
    (started.elapsed(), total)
}

/// `workers` threads run `process`; the calling thread does all the storing,
/// so SQLite sees one connection on one thread and never waits for a lock.
fn pipelined(
    corpus: &[Feed],
    store: &mut Store,
    workers: usize,
    tagged: bool,
    seen: Option<&kurator::dedup::SeenItems>,
) -> (Duration, Counts) {
    // Round-robin partition, prepared before the clock starts.
    let mut shares: Vec<Vec<(usize, Vec<u8>)>> = (0..workers).map(|_| Vec::new()).collect();
    for (i, bytes) in bodies(corpus).into_iter().enumerate() {
        shares[i % workers].push((i, bytes));
    }
    let started = Instant::now();
    let writer_started = thread_cpu_seconds();
    let process_started = process_cpu_seconds();
    let mut total = Counts::default();
    thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(usize, Vec<Identified>)>(CHANNEL_BOUND);
        for share in shares {
            let tx = tx.clone();
            scope.spawn(move || {
                for (i, bytes) in share {
                    let items = process_dedup(&corpus[i], bytes, tagged, seen);
                    if tx.send((i, items)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // Group commit, as `kurator::store::StoreWriter` does: whatever has
        // queued up (at most MAX_BATCH fetches) goes into one commit.
        let mut batch: Vec<PendingFetch> = Vec::with_capacity(MAX_BATCH);
        while let Ok(first) = rx.recv() {
            batch.push(pending(corpus, first));
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(next) => batch.push(pending(corpus, next)),
                    Err(_) => break,
                }
            }
            for result in store.record_fetches(&mut batch).expect("commit a batch") {
                add(&mut total, result.expect("record a fetch"));
            }
            batch.clear();
        }
    });
    let writer_cpu = thread_cpu_seconds() - writer_started;
    LAST_WRITER_CPU.store(writer_cpu.to_bits(), Ordering::Relaxed);
    let process_cpu = process_cpu_seconds() - process_started;
    LAST_PROCESS_CPU.store(process_cpu.to_bits(), Ordering::Relaxed);
    (started.elapsed(), total)
}

/// The writer thread's CPU time in the last [`pipelined`] run (f64 bits).
static LAST_WRITER_CPU: AtomicU64 = AtomicU64::new(0);
/// All threads' CPU time in the last [`pipelined`] run (f64 bits).
static LAST_PROCESS_CPU: AtomicU64 = AtomicU64::new(0);

/// CPU time (user and system) of the calling thread, in seconds, from
/// `/proc` (10 ms resolution; 0 where there is no `/proc`). The writer's
/// CPU time is steadier than its wall time on a shared machine: it leaves
/// out waiting for the disk and for a core.
fn thread_cpu_seconds() -> f64 {
    cpu_seconds("/proc/thread-self/stat")
}

/// CPU time of the whole process (all threads), as [`thread_cpu_seconds`].
/// The machine has two cores: what a mode costs in all, not only on the
/// writer, decides its throughput once both are busy.
fn process_cpu_seconds() -> f64 {
    cpu_seconds("/proc/self/stat")
}

fn cpu_seconds(stat: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(stat) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): utime and
    // stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |at: usize| {
        fields
            .get(at)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn pending(corpus: &[Feed], (i, items): (usize, Vec<Identified>)) -> PendingFetch {
    let feed = &corpus[i];
    PendingFetch {
        source_id: feed.source_id.clone(),
        url: feed.url_str.clone(),
        record: success_record(feed),
        items,
        now: NOW,
        oldest_kept: None,
    }
}

/// `threads` threads that each process a feed and then store it through a
/// shared, locked `Store` with one commit per feed: how ingest worked before the
/// group-committing writer thread, kept for comparison.
fn shared(corpus: &[Feed], store: &mut Store, threads: usize) -> (Duration, Counts) {
    let inputs: Vec<Mutex<Option<Vec<u8>>>> = bodies(corpus)
        .into_iter()
        .map(|b| Mutex::new(Some(b)))
        .collect();
    let next = AtomicUsize::new(0);
    let store = Mutex::new(store);
    let total = Mutex::new(Counts::default());
    let started = Instant::now();
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= corpus.len() {
                        break;
                    }
                    let bytes = inputs[i].lock().unwrap().take().expect("taken once");
                    let mut items = process(&corpus[i], bytes, false);
                    let counts = store_items(&mut store.lock().unwrap(), &corpus[i], &mut items);
                    add(&mut total.lock().unwrap(), counts);
                }
            });
        }
    });
    (started.elapsed(), total.into_inner().unwrap())
}

/// Per-stage cost, single-threaded, with the stages called one by one.
#[derive(Default)]
struct Stages {
    sha256: Duration,
    decode: Duration,
    parse: Duration,
    normalize: Duration,
    identify: Duration,
    tag: Duration,
    /// Dedup keys (terms, places, cited links): extra, as `sha256`.
    dedup_keys: Duration,
    store: Duration,
    published: usize,
    html_summaries: usize,
    items: usize,
}

fn stages(corpus: &[Feed], store: &mut Store) -> Stages {
    let mut s = Stages::default();
    let inputs = bodies(corpus);
    for (feed, bytes) in corpus.iter().zip(inputs) {
        let t = Instant::now();
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        std::hint::black_box(digest);
        s.sha256 += t.elapsed();

        let t = Instant::now();
        let tld = feed.url.domain().and_then(|d| d.rsplit('.').next());
        let decoded = kurator::decode::decode_owned(bytes, feed.content_type, tld);
        s.decode += t.elapsed();

        let t = Instant::now();
        let parsed = kurator::parse::parse(&decoded.text, &feed.url).expect("parse");
        s.parse += t.elapsed();

        let t = Instant::now();
        let items = kurator::normalize::normalize(&parsed.feed, &feed.url, NOW);
        s.normalize += t.elapsed();

        let t = Instant::now();
        let mut identified = kurator::identify::identify(&feed.source_id, items);
        s.identify += t.elapsed();

        let t = Instant::now();
        let tagger = kurator::tag::Tagger {
            topics: shipped_topics(),
            source_id: &feed.source_id,
            source_tags: &[],
        };
        for item in &mut identified {
            item.topics = tagger.topics((&item.item).into());
        }
        s.tag += t.elapsed();

        // Not part of this store's work (it does not cluster), so extra.
        let t = Instant::now();
        let keys: Vec<kurator::dedup::Keys> = identified
            .iter()
            .map(|i| kurator::dedup::Keys::of_item(&i.item))
            .collect();
        std::hint::black_box(keys);
        s.dedup_keys += t.elapsed();

        let t = Instant::now();
        let counts = store_items(store, feed, &mut identified);
        s.store += t.elapsed();
        assert_eq!(counts.new, identified.len());

        for i in &identified {
            assert!(
                !i.item.title.contains('\u{fffd}'),
                "{}: mis-decoded title {:?}",
                feed.source_id,
                i.item.title
            );
        }
        s.items += identified.len();
        s.published += identified
            .iter()
            .filter(|i| i.item.published.is_some())
            .count();
        s.html_summaries += identified
            .iter()
            .filter(|i| i.item.summary.as_deref().is_some_and(|s| s.contains('<')))
            .count();
    }
    s
}

// ---------------------------------------------------------------------------
// Reporting

struct Series {
    label: String,
    times: Vec<Duration>,
    /// CPU time of the writer thread in each round (pipelined modes).
    writer_cpu: Vec<f64>,
    /// CPU time of all threads in each round (pipelined modes).
    process_cpu: Vec<f64>,
    items: usize,
}

impl Series {
    fn new(label: &str, items: usize) -> Series {
        Series {
            label: label.to_string(),
            times: Vec::new(),
            writer_cpu: Vec::new(),
            process_cpu: Vec::new(),
            items,
        }
    }

    fn sorted(&self) -> Vec<Duration> {
        let mut t = self.times.clone();
        t.sort();
        t
    }

    fn best(&self) -> Duration {
        self.sorted()[0]
    }

    fn median(&self) -> Duration {
        let t = self.sorted();
        if t.len().is_multiple_of(2) {
            (t[t.len() / 2 - 1] + t[t.len() / 2]) / 2
        } else {
            t[t.len() / 2]
        }
    }

    fn rate(&self, time: Duration) -> f64 {
        self.items as f64 / time.as_secs_f64()
    }
}

pub(crate) fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}")),
        Err(_) => default,
    }
}

pub(crate) fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    let feeds = env_usize("KURATOR_BENCH_FEEDS", DEFAULT_FEEDS).max(1);
    let runs = env_usize("KURATOR_BENCH_RUNS", DEFAULT_RUNS).max(1);
    let only = std::env::var("KURATOR_BENCH_ONLY").ok();
    let wants = |name: &str| {
        only.as_deref()
            .is_none_or(|only| only.split(',').any(|o| o.trim() == name))
    };

    let t = Instant::now();
    let corpus = make_corpus(feeds);
    let generated = t.elapsed();
    let items = feeds * ITEMS_PER_FEED;
    let bytes: usize = corpus.iter().map(|f| f.bytes.len()).sum();
    let mb = bytes as f64 / 1e6;
    let mut sizes: Vec<usize> = corpus
        .iter()
        .flat_map(|f| f.item_sizes.iter().copied())
        .collect();
    sizes.sort_unstable();
    let count = |format| corpus.iter().filter(|f| f.format == format).count();
    println!("Kurator ingest benchmark");
    println!(
        "corpus: {feeds} feeds × {ITEMS_PER_FEED} items = {items} items, {mb:.1} MB \
         (generated in {:.2} s)",
        generated.as_secs_f64()
    );
    println!(
        "  formats: {} RSS 2.0 ({} ISO-8859-1), {} Atom 1.0, {} RSS 1.0; \
         {} items with full content",
        count(Format::Rss2),
        corpus.iter().filter(|f| f.latin1).count(),
        count(Format::Atom),
        count(Format::Rdf),
        corpus.iter().map(|f| f.with_content).sum::<usize>()
    );
    println!(
        "  item size (serialized): median {} B, p10 {} B, p90 {} B, mean {} B",
        sizes[sizes.len() / 2],
        sizes[sizes.len() / 10],
        sizes[sizes.len() * 9 / 10],
        sizes.iter().sum::<usize>() / sizes.len()
    );
    println!(
        "  threads available: {}; runs per measurement: {runs}",
        thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();

    let dir = tempfile::tempdir().expect("temp dir");
    let mut db_bytes = 0;

    // Every series, in table order; rounds interleave the modes so that each
    // samples the same stretches of this (noisy, shared) machine.
    const BARE: usize = 0;
    const CONFIGURED: usize = 1;
    const SINGLE: usize = 2;
    const REINGEST: usize = 3;
    const PIPELINES: usize = 4;
    // (name, label, threads, shared store, tagged, clustered)
    let pipelines: [(&str, &str, usize, bool, bool, bool); 5] = [
        (
            "pipe1",
            "pipelined: 1 process thread → writer thread, group commit",
            1,
            false,
            false,
            false,
        ),
        (
            "pipe2",
            "pipelined: 2 process threads → writer thread, group commit (as kurator fetch)",
            2,
            false,
            false,
            false,
        ),
        (
            "shared2",
            "2 threads, each process + store, one commit per feed",
            2,
            true,
            false,
            false,
        ),
        (
            "pipe2tag",
            "pipe2 plus tagging against the 3 shipped topics",
            2,
            false,
            true,
            false,
        ),
        (
            "pipe2dedup",
            "pipe2 plus clustering ([dedup] mode = \"cluster\", all items in the window)",
            2,
            false,
            false,
            true,
        ),
    ];
    let mut series = vec![
        Series::new("bare feed-rs parse, 1 thread", items),
        Series::new(
            "feed-rs with kurator's settings (base_uri, no id generator), decoded text",
            items,
        ),
        Series::new("end-to-end, 1 thread (first ingest)", items),
        Series::new("end-to-end, 1 thread (re-ingest, unchanged)", items),
    ];
    for (_, label, _, _, _, _) in pipelines {
        series.push(Series::new(label, items));
        series.push(Series::new(&format!("{label} (re-ingest)"), items));
    }

    let texts: Vec<String> = if wants("bare") {
        check_bare_decoding(&corpus);
        corpus
            .iter()
            .map(|f| {
                let tld = f.url.domain().and_then(|d| d.rsplit('.').next());
                kurator::decode::decode(&f.bytes, f.content_type, tld).text
            })
            .collect()
    } else {
        Vec::new()
    };

    for run in 0..runs {
        println!("round {}/{runs}", run + 1);
        if wants("bare") {
            let (time, entries) = bare_parse(&corpus);
            assert_eq!(entries, items, "feed-rs found every entry");
            println!("  bare parse          {:.3} s", time.as_secs_f64());
            series[BARE].times.push(time);

            let (time, entries) = configured_parse(&corpus, &texts);
            assert_eq!(entries, items, "feed-rs found every entry");
            println!("  configured parse    {:.3} s", time.as_secs_f64());
            series[CONFIGURED].times.push(time);
        }

        if wants("single") || wants("reingest") {
            let (mut store, path) = fresh_db(dir.path(), &format!("single-{run}"));
            if run == 0 {
                let page_size: u32 = store
                    .connection()
                    .query_row("PRAGMA page_size", [], |row| row.get(0))
                    .expect("page size");
                println!("  (database page size {page_size} bytes)");
            }
            let (time, counts) = single(&corpus, &mut store);
            assert_eq!(counts.new, items, "first pass stores every item");
            println!("  single              {:.3} s", time.as_secs_f64());
            series[SINGLE].times.push(time);
            if wants("reingest") {
                let (time, counts) = single(&corpus, &mut store);
                assert_eq!(counts.new, 0, "re-ingest finds nothing new");
                assert_eq!(counts.updated, 0, "re-ingest changes nothing");
                assert_eq!(counts.unchanged, items);
                println!("  single re-ingest    {:.3} s", time.as_secs_f64());
                series[REINGEST].times.push(time);
            }
            assert_eq!(store.item_count(None).expect("count"), items as u64);
            drop(store);
            db_bytes = db_size(&path);
            remove_db(&path);
        }

        // Every other round in reverse order: a mode measured right after
        // another shares the machine with its aftermath (the kernel writing
        // back and freeing the last database's pages), so each mode of a
        // pair goes first as often as second.
        let mut order: Vec<_> = pipelines.into_iter().enumerate().collect();
        if run % 2 == 1 {
            order.reverse();
        }
        for (index, (name, _, threads, is_shared, tagged, clustered)) in order {
            if !wants(name) {
                continue;
            }
            let (mut store, path) = fresh_db(dir.path(), &format!("{name}-{run}"));
            // One daemon's memory of the sources' last bodies: the
            // re-ingest finds every item seen, as a daemon would.
            let seen = clustered.then(kurator::dedup::SeenItems::default);
            if clustered {
                store.set_dedup(kurator::dedup::Settings::default());
            }
            let mode = |store: &mut Store| {
                if is_shared {
                    shared(&corpus, store, threads)
                } else {
                    pipelined(&corpus, store, threads, tagged, seen.as_ref())
                }
            };
            let writer_cpu = || f64::from_bits(LAST_WRITER_CPU.load(Ordering::Relaxed));
            let process_cpu = || f64::from_bits(LAST_PROCESS_CPU.load(Ordering::Relaxed));
            let (time, counts) = mode(&mut store);
            assert_eq!(counts.new, items, "first pass stores every item");
            println!(
                "  {name:<19} {:.3} s (CPU: writer {:.2} s, all threads {:.2} s)",
                time.as_secs_f64(),
                writer_cpu(),
                process_cpu()
            );
            series[PIPELINES + 2 * index].times.push(time);
            series[PIPELINES + 2 * index].writer_cpu.push(writer_cpu());
            series[PIPELINES + 2 * index]
                .process_cpu
                .push(process_cpu());
            let (time, counts) = mode(&mut store);
            assert_eq!((counts.new, counts.unchanged), (0, items));
            println!(
                "  {name:<7} re-ingest   {:.3} s (CPU: writer {:.2} s, all threads {:.2} s)",
                time.as_secs_f64(),
                writer_cpu(),
                process_cpu()
            );
            series[PIPELINES + 2 * index + 1].times.push(time);
            series[PIPELINES + 2 * index + 1]
                .writer_cpu
                .push(writer_cpu());
            series[PIPELINES + 2 * index + 1]
                .process_cpu
                .push(process_cpu());
            drop(store);
            remove_db(&path);
        }
    }
    series.retain(|s| !s.times.is_empty());

    let mut stage_report = None;
    if wants("stages") {
        let (mut store, path) = fresh_db(dir.path(), "stages");
        stage_report = Some(stages(&corpus, &mut store));
        drop(store);
        remove_db(&path);
    }

    println!();
    println!(
        "| measurement | best s | median s | items/s (best) | items/s (median) | MB/s (median) | × bare parse (median) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let bare_rate = series
        .iter()
        .find(|s| s.label.starts_with("bare feed-rs"))
        .map(|s| s.rate(s.median()));
    for s in &series {
        let ratio = bare_rate.map_or("–".to_string(), |bare| {
            format!("{:.2}", s.rate(s.median()) / bare)
        });
        println!(
            "| {} | {:.3} | {:.3} | {} | {} | {:.1} | {} |",
            s.label,
            s.best().as_secs_f64(),
            s.median().as_secs_f64(),
            thousands(s.rate(s.best())),
            thousands(s.rate(s.median())),
            mb / s.median().as_secs_f64(),
            ratio
        );
    }
    if db_bytes > 0 {
        println!();
        println!(
            "database after one ingest: {:.1} MB ({} bytes/item)",
            db_bytes as f64 / 1e6,
            db_bytes as usize / items
        );
    }

    if let Some(s) = stage_report {
        let total = s.decode + s.parse + s.normalize + s.identify + s.tag + s.store;
        println!();
        println!(
            "stages, 1 thread, first ingest (sha256 is extra: ingest.rs hashes the body before `process`; dedup keys are extra: computed only with `[dedup] mode = \"cluster\"`):"
        );
        println!("| stage | s | share | µs/item |");
        println!("|---|---:|---:|---:|");
        for (name, d) in [
            ("decode", s.decode),
            ("parse (repairs + feed-rs)", s.parse),
            ("normalize (incl. ammonia)", s.normalize),
            ("identify", s.identify),
            ("tag (3 shipped topics)", s.tag),
            ("store (SQLite)", s.store),
            ("total", total),
            ("body sha256 (extra)", s.sha256),
            ("dedup keys (extra)", s.dedup_keys),
        ] {
            println!(
                "| {name} | {:.3} | {:.0}% | {:.1} |",
                d.as_secs_f64(),
                100.0 * d.as_secs_f64() / total.as_secs_f64(),
                d.as_secs_f64() * 1e6 / s.items as f64
            );
        }
        println!(
            "({} of {} items dated, {} with HTML summaries)",
            s.published, s.items, s.html_summaries
        );
    }

    report_clustering_cost(&series);

    // First-ingest modes only: a re-ingest stores nothing.
    let first_ingest: Vec<&Series> = series
        .iter()
        .filter(|s| s.label.contains("end-to-end") || s.label.contains("process"))
        .filter(|s| !s.label.contains("re-ingest"))
        .collect();
    let bare = series.iter().find(|s| s.label.starts_with("bare feed-rs"));
    for (statistic, pick) in [
        ("median", Series::median as fn(&Series) -> Duration),
        ("best", Series::best),
    ] {
        let Some((mode, rate)) = first_ingest
            .iter()
            .map(|s| (s.label.as_str(), s.rate(pick(s))))
            .max_by(|a, b| a.1.total_cmp(&b.1))
        else {
            break;
        };
        println!();
        println!("targets, {statistic} of each measurement, fastest first-ingest mode ({mode}):");
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        println!(
            "  ≥ 25,000 items/s end-to-end: {} ({} items/s)",
            verdict(rate >= 25_000.0),
            thousands(rate)
        );
        if let Some(bare) = bare {
            let bare_rate = bare.rate(pick(bare));
            println!(
                "  ≥ 0.5 × bare parse ({} items/s): {} (ratio {:.2})",
                thousands(bare_rate),
                verdict(rate >= 0.5 * bare_rate),
                rate / bare_rate
            );
        }
    }
}

/// What clustering costs: pipe2 plus clustering against pipe2, round by
/// round (each round runs both, one after the other), as the share of
/// throughput lost.
fn report_clustering_cost(series: &[Series]) {
    let find = |label: &str| series.iter().find(|s| s.label == label);
    for (what, suffix) in [("first ingest", ""), ("re-ingest", " (re-ingest)")] {
        let plain = find(&format!(
            "pipelined: 2 process threads → writer thread, group commit (as kurator fetch){suffix}"
        ));
        let clustered = find(&format!(
            "pipe2 plus clustering ([dedup] mode = \"cluster\", all items in the window){suffix}"
        ));
        let (Some(plain), Some(clustered)) = (plain, clustered) else {
            return;
        };
        let mut costs: Vec<f64> = plain
            .times
            .iter()
            .zip(&clustered.times)
            .map(|(plain, clustered)| 1.0 - plain.as_secs_f64() / clustered.as_secs_f64())
            .collect();
        let rounds: Vec<String> = costs.iter().map(|c| format!("{:.0}%", c * 100.0)).collect();
        costs.sort_by(f64::total_cmp);
        println!(
            "clustering costs {:.0}% of {what} throughput (median of rounds: {})",
            costs[costs.len() / 2] * 100.0,
            rounds.join(", ")
        );
        let median = |values: &[f64]| {
            let mut values = values.to_vec();
            values.sort_by(f64::total_cmp);
            values.get(values.len() / 2).copied().unwrap_or(0.0)
        };
        let (plain_cpu, clustered_cpu) = (median(&plain.writer_cpu), median(&clustered.writer_cpu));
        if plain_cpu > 0.0 {
            println!(
                "  and adds {:.0}% to the writer thread's CPU time ({plain_cpu:.2} → {clustered_cpu:.2} s, medians)",
                (clustered_cpu / plain_cpu - 1.0) * 100.0
            );
        }
        let (plain_cpu, clustered_cpu) =
            (median(&plain.process_cpu), median(&clustered.process_cpu));
        if plain_cpu > 0.0 {
            println!(
                "  and {:.0}% to the CPU time of all threads ({plain_cpu:.2} → {clustered_cpu:.2} s, medians)",
                (clustered_cpu / plain_cpu - 1.0) * 100.0
            );
        }
    }
}
