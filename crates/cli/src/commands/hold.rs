//! `accesslog hold add|lift|list`: legal holds (issue 19). Held entries are never pruned
//! or redacted; adding and lifting a hold are recorded in the Access Log (`legal_hold`).

use accesslog_core::entry::Activity;
use accesslog_core::{Clock, SystemClock, Timestamp};
use accesslog_store::retention::{HoldScope, NewHold};
use anyhow::Context;
use clap::{Args, Subcommand};

/// Keep entries from pruning and redaction: legal holds by user, doctype, report or time
#[derive(Debug, Args)]
pub struct Opts {
    #[command(subcommand)]
    command: HoldCommand,
}

#[derive(Debug, Subcommand)]
enum HoldCommand {
    /// Add a hold over every entry matching all the criteria given
    Add(AddOpts),
    /// Lift a hold (it is kept, marked lifted)
    Lift(LiftOpts),
    /// List every hold, lifted and expired ones too
    List(ListOpts),
}

#[derive(Debug, Args)]
struct AddOpts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// Entries by this user.
    #[arg(long)]
    user: Option<String>,
    /// Entries whose data came from this document type.
    #[arg(long)]
    doctype: Option<String>,
    /// Entries of this report.
    #[arg(long)]
    report: Option<String>,
    /// Entries from this date (YYYY-MM-DD) or time (RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// Entries up to this date (inclusive) or time.
    #[arg(long)]
    to: Option<String>,
    /// Why (a case or matter reference).
    #[arg(long)]
    reason: String,
    /// Who is answerable for the hold.
    #[arg(long)]
    owner: String,
    /// When the hold ends by itself (a date or time); never, if not given.
    #[arg(long)]
    expires: Option<String>,
}

#[derive(Debug, Args)]
struct LiftOpts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// The hold's number (`hold list`).
    id: u64,
}

#[derive(Debug, Args)]
struct ListOpts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
}

/// Now, or the time given (a hidden flag of the retention commands, for drills and tests).
pub(crate) fn now(at: Option<&str>) -> anyhow::Result<Timestamp> {
    match at {
        None => Ok(SystemClock.now()),
        Some(t) => Ok(accesslog_app::log_query::instant(t, false)?),
    }
}

fn when(text: &Option<String>, end_of_day: bool) -> anyhow::Result<Option<Timestamp>> {
    text.as_deref()
        .map(|t| accesslog_app::log_query::instant(t, end_of_day))
        .transpose()
        .map_err(Into::into)
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    match opts.command {
        HoldCommand::Add(o) => {
            let scope = HoldScope {
                user: o.user,
                doctype: o.doctype,
                report: o.report,
                from: when(&o.from, false)?,
                // `--to 2026-12-31` holds that whole day.
                to: when(&o.to, true)?.map(|t| Timestamp::from_micros(t.as_micros() - 1)),
            };
            let hold = NewHold {
                scope,
                reason: o.reason,
                owner: o.owner,
                created_at: SystemClock.now(),
                expires_at: when(&o.expires, false)?,
            };
            let (settings, store) = o.site.open().await?;
            let recorder = crate::open::recorder(&settings, store.clone()).await?;
            let actor = crate::open::operator_event(Activity::LegalHold, "accesslog hold add");
            let (added, seq) = accesslog_app::retention::add_hold(&*store, &recorder, &actor, hold)
                .await
                .context("adding the legal hold")?;
            recorder.checkpoint_now().await;
            eprintln!(
                "Legal hold {} added over {}; recorded as entry {seq}.",
                added.id,
                added.scope.describe()
            );
        }
        HoldCommand::Lift(o) => {
            let (settings, store) = o.site.open().await?;
            let recorder = crate::open::recorder(&settings, store.clone()).await?;
            let actor = crate::open::operator_event(Activity::LegalHold, "accesslog hold lift");
            let (lifted, seq) = accesslog_app::retention::lift_hold(
                &*store,
                &recorder,
                &actor,
                o.id,
                SystemClock.now(),
            )
            .await
            .context("lifting the legal hold")?;
            recorder.checkpoint_now().await;
            eprintln!("Legal hold {} lifted; recorded as entry {seq}.", lifted.id);
        }
        HoldCommand::List(o) => {
            let (_, store) = o.site.open().await?;
            let holds = store.holds().await?;
            if holds.is_empty() {
                println!("No legal holds.");
            }
            let now = SystemClock.now();
            for h in holds {
                let state = match (h.lifted_at, h.expires_at) {
                    (Some(t), _) => format!(
                        "lifted {} by {}",
                        t.to_rfc3339(),
                        h.lifted_by.as_deref().unwrap_or("?")
                    ),
                    (None, Some(t)) if t <= now => format!("expired {}", t.to_rfc3339()),
                    (None, Some(t)) => format!("active until {}", t.to_rfc3339()),
                    (None, None) => "active".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\towner {}\tsince {}\t{}",
                    h.id,
                    state,
                    h.scope.describe(),
                    h.owner,
                    h.created_at.to_rfc3339(),
                    h.reason
                );
            }
        }
    }
    Ok(())
}
