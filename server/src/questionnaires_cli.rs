//! `cadre questionnaire …`: appreciation questionnaires on the data
//! directory: define one (a TOML or JSON file), attach it to an action or a
//! session, list them, and read the aggregate of the answers (withheld under
//! three answers).

use crate::read_spec;
use anyhow::bail;
use cadre_protocol::questionnaire::{
    Moment, NewQuestionnaire, QuestionKind, QuestionnaireResults, QuestionnaireUse,
};
use cadre_server::App;
use cadre_server::error::ApiError;
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Subcommand)]
pub(crate) enum QuestionnaireCommand {
    /// Define a questionnaire from a TOML or JSON file (`title`, `questions`:
    /// each `text`, `kind` = scale | choice | text, `choices` for a choice).
    Create {
        /// The file.
        #[arg(long)]
        file: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// List the questionnaires and where they are attached.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Attach a questionnaire to an action (at each session's end, or at
    /// the action's end) or to one session (at its end).
    Attach(AttachArgs),
    /// The aggregate of the answers about an action or a session: counts,
    /// means and free texts (shuffled), only from three answers on.
    Results {
        /// Questionnaire id (qn_…).
        questionnaire: String,
        /// The action (a_…) or session (s_…) the answers are about.
        #[arg(long)]
        scope: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub(crate) struct AttachArgs {
    /// Questionnaire id (qn_…).
    questionnaire: String,
    /// The action (a_…).
    #[arg(long, conflicts_with = "session", required_unless_present = "session")]
    action: Option<String>,
    /// The session (s_…).
    #[arg(long)]
    session: Option<String>,
    /// When an action's beneficiaries are invited.
    #[arg(long, value_enum, default_value = "action-end")]
    at: At,
}

#[derive(Clone, Copy, ValueEnum)]
enum At {
    SessionEnd,
    ActionEnd,
}

fn api(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!("{} ({})", e.message, e.code)
}

pub(crate) async fn questionnaire(app: &App, cmd: QuestionnaireCommand) -> anyhow::Result<()> {
    match cmd {
        QuestionnaireCommand::Create { file, json } => {
            let new: NewQuestionnaire = read_spec(&file, "questionnaire")?;
            let v = app.create_questionnaire(new).await.map_err(api)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("{}  {} ({} questions)", v.id, v.title, v.questions.len());
            }
        }
        QuestionnaireCommand::List { json } => {
            let all = app.questionnaires().await.map_err(api)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            }
            for q in all.iter().filter(|_| !json) {
                println!("{}  {} ({} questions)", q.id, q.title, q.questions.len());
                for u in &q.uses {
                    println!("  {}  {}", u.target, u.at.as_str());
                }
            }
        }
        QuestionnaireCommand::Attach(a) => {
            let (target, at) = match (a.action, a.session) {
                (Some(action), None) => (
                    action,
                    match a.at {
                        At::SessionEnd => Moment::SessionEnd,
                        At::ActionEnd => Moment::ActionEnd,
                    },
                ),
                (None, Some(session)) => (session, Moment::SessionEnd),
                _ => bail!("give --action or --session"),
            };
            let v = app
                .attach_questionnaire(&a.questionnaire, QuestionnaireUse { target, at })
                .await
                .map_err(api)?;
            for u in &v.uses {
                println!("{}  {}  {}", v.id, u.target, u.at.as_str());
            }
        }
        QuestionnaireCommand::Results {
            questionnaire,
            scope,
            json,
        } => {
            let r = app
                .questionnaire_results(&questionnaire, &scope)
                .await
                .map_err(api)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_results(&r);
            }
        }
    }
    Ok(())
}

fn print_results(r: &QuestionnaireResults) {
    println!(
        "{} — {}: {} answer(s) of {} invited",
        r.title, r.scope, r.answers, r.invited
    );
    if let Some(why) = &r.withheld {
        println!("{why}");
        return;
    }
    for (n, q) in r.questions.iter().enumerate() {
        println!("{}. {} ({} answered)", n + 1, q.text, q.answered);
        match q.kind {
            QuestionKind::Scale => {
                let counts: Vec<String> = q
                    .counts
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{}: {c}", i + 1))
                    .collect();
                let mean = q
                    .mean
                    .map(|m| format!("{m:.2}"))
                    .unwrap_or_else(|| "-".into());
                println!("   mean {mean}  ({})", counts.join(", "));
            }
            QuestionKind::Choice => {
                for (choice, c) in q.choices.iter().zip(&q.counts) {
                    println!("   {c}  {choice}");
                }
            }
            QuestionKind::Text => {
                for t in &q.texts {
                    println!("   « {} »", t.replace('\n', " "));
                }
            }
        }
    }
}
