//! `/app/access-log/dashboard`: prints, exports, downloads and reads per day (`?reads=hide`
//! leaves reads out) for the last 30 days
//! (an SVG chart drawn from the data), denied attempts per day, and the largest exporters by
//! user and by report or document type; the number of open alerts, linked to the inbox;
//! and how far the site's witnesses have cosigned, with their latest refusals.

use accesslog_core::Timestamp;
use accesslog_core::entry::{Activity, CanonicalJson, Event};
use askama::Template;
use axum::extract::{Query, State};

use super::require_reviewer;
use crate::audit::{Audit, AuditedResponse, Payload, Read};
use crate::auth::PageUser;
use crate::error::WebError;
use crate::pages::{Layout, render};
use crate::state::AppState;

const DAYS: i64 = 30;
const DAY_MICROS: i64 = 86_400_000_000;
/// The series, by the activities each counts.
const SERIES: [(&str, &[&str], &str); 4] = [
    ("Prints", &["print", "report_print", "raw_print"], "#2563eb"),
    ("Exports", &["export", "log_export"], "#d97706"),
    (
        "Downloads",
        &["file_download", "backup_download"],
        "#059669",
    ),
    ("Reads", &["read"], "#7c3aed"),
];
/// The series of reads, which `?reads=hide` leaves out (with their refusals).
const READS: usize = 3;

pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub height: i64,
    pub color: &'static str,
    pub title: String,
}

#[derive(Template)]
#[template(path = "access_log_dashboard.html")]
struct Dashboard {
    layout: Layout,
    bars: Vec<Bar>,
    denied: Vec<Bar>,
    legend: Vec<LegendItem>,
    denied_total: u64,
    /// Every fifth day, under the bars.
    ticks: Vec<Tick>,
    max: u64,
    /// Whether reads are left out, and the link that switches.
    reads_hidden: bool,
    toggle_url: &'static str,
    top_users: Vec<TopExporter>,
    top_sources: Vec<TopExporter>,
    /// Open and acknowledged alerts (shadow ones left out).
    open_alerts: u64,
    witnesses: Witnessing,
}

/// The site's witnesses: how far they have cosigned, and their latest refusals.
struct Witnessing {
    configured: usize,
    quorum: u32,
    /// The newest checkpoint the quorum cosigned, if any.
    cosigned: Option<u64>,
    log_size: u64,
    refusals: Vec<Refusal>,
}

struct Refusal {
    witness: String,
    size: u64,
    at: String,
    message: String,
}

async fn witnessing(state: &AppState) -> Result<Witnessing, WebError> {
    let log = &state.settings.log;
    let cosigned = if log.witnesses.is_empty() {
        None
    } else {
        state
            .store
            .latest_cosigned(log.quorum())
            .await?
            .map(|c| c.size)
    };
    Ok(Witnessing {
        configured: log.witnesses.len(),
        quorum: log.quorum(),
        cosigned,
        log_size: state.store.log_head().await?.size,
        refusals: state
            .store
            .witness_refusals(5)
            .await?
            .into_iter()
            .map(|r| Refusal {
                witness: r.witness,
                size: r.size,
                at: r.at.to_rfc3339(),
                message: r.message,
            })
            .collect(),
    })
}

/// A series of the chart: its name, its color, and its total over the period.
struct LegendItem {
    label: &'static str,
    color: &'static str,
    total: u64,
}

/// A day's label at `x` on the chart.
struct Tick {
    x: i64,
    label: String,
}

/// A user (or a document type or report) among the top exporters: exports and bytes.
struct TopExporter {
    name: String,
    exports: u64,
    bytes: String,
}

impl TopExporter {
    fn from_summary((name, exports, bytes): (String, u64, u64)) -> Self {
        Self {
            name,
            exports,
            bytes: human_bytes(bytes),
        }
    }
}

fn day_label(day: i64) -> String {
    Timestamp::from_micros(day * DAY_MICROS)
        .to_rfc3339()
        .get(5..10)
        .unwrap_or("")
        .to_owned()
}

fn human_bytes(n: u64) -> String {
    match n {
        0..1_024 => format!("{n} B"),
        1_024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// `GET /app/access-log/dashboard`.
pub async fn show(
    State(state): State<AppState>,
    _page: PageUser,
    audit: Audit,
    Query(params): Query<std::collections::BTreeMap<String, String>>,
) -> Result<AuditedResponse, WebError> {
    require_reviewer(&state, &audit, Activity::Read).await?;
    let reads_hidden = params.get("reads").is_some_and(|v| v == "hide");
    let today = state.clock.now().as_micros().div_euclid(DAY_MICROS);
    let first = today - (DAYS - 1);
    let summary = state
        .store
        .activity_since(Timestamp::from_micros(first * DAY_MICROS))
        .await?;
    let open_alerts = state.store.count_open_alerts().await?;
    let witnesses = witnessing(&state).await?;
    let mut counts = vec![[0u64; SERIES.len()]; DAYS as usize];
    let mut denied = vec![0u64; DAYS as usize];
    for (day, activity, outcome, n) in &summary.daily {
        let Some(i) = usize::try_from(day - first)
            .ok()
            .filter(|i| *i < DAYS as usize)
        else {
            continue;
        };
        if reads_hidden && activity == "read" {
            continue;
        }
        if outcome != "granted" {
            denied[i] += n;
            continue;
        }
        if let Some(s) = SERIES
            .iter()
            .position(|(_, acts, _)| acts.contains(&activity.as_str()))
        {
            counts[i][s] += n;
        }
    }
    let max = counts
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .chain(denied.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = |n: u64| -> i64 { i64::try_from(n * 160 / max).unwrap_or(160) };
    let mut bars = Vec::new();
    for (i, day) in counts.iter().enumerate() {
        let x = 40 + i as i64 * 24;
        let mut top = 180;
        for (s, n) in day.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let h = scale(*n).max(1);
            top -= h;
            bars.push(Bar {
                x,
                y: top,
                height: h,
                color: SERIES[s].2,
                title: format!(
                    "{}: {} {}",
                    day_label(first + i as i64),
                    n,
                    SERIES[s].0.to_lowercase()
                ),
            });
        }
    }
    let denied_bars = denied
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| {
            let h = scale(*n).max(1);
            Bar {
                x: 40 + i as i64 * 24,
                y: 180 - h,
                height: h,
                color: "#b91c1c",
                title: format!("{}: {} denied", day_label(first + i as i64), n),
            }
        })
        .collect();
    let html = render(&Dashboard {
        layout: Layout::new(&state.settings.name, Some(&audit.who)),
        bars,
        denied: denied_bars,
        legend: SERIES
            .iter()
            .enumerate()
            .filter(|(s, _)| !(reads_hidden && *s == READS))
            .map(|(s, (label, _, color))| LegendItem {
                label,
                color,
                total: counts.iter().map(|c| c[s]).sum(),
            })
            .collect(),
        reads_hidden,
        toggle_url: if reads_hidden {
            "/app/access-log/dashboard"
        } else {
            "/app/access-log/dashboard?reads=hide"
        },
        denied_total: denied.iter().sum(),
        ticks: (0..DAYS)
            .step_by(5)
            .map(|i| Tick {
                x: 40 + i * 24,
                label: day_label(first + i),
            })
            .collect(),
        max,
        top_users: summary
            .top_users
            .into_iter()
            .map(TopExporter::from_summary)
            .collect(),
        top_sources: summary
            .top_sources
            .into_iter()
            .map(TopExporter::from_summary)
            .collect(),
        open_alerts,
        witnesses,
    })?
    .0;
    let mut event = Event::log_access(&audit.actor(), Activity::Read, Some("Access Log Dashboard"));
    event.filters = Some(CanonicalJson::from_value(&serde_json::json!({
        "days": DAYS,
        "reads": if reads_hidden { "hide" } else { "show" },
    })));
    audit
        .release_read(&state, event, Payload::html(html), Read::Report)
        .await
}
