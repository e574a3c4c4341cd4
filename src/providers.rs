//! Building the provider chain of a [`Plan`].

use std::sync::Arc;

use crate::config::Plan;
use crate::error::Error;
use crate::provider::{Provider, ProviderName, discord::Discord, telegram::Telegram, web::Web};

pub fn build(plan: &Plan) -> Result<Vec<Arc<dyn Provider>>, Error> {
    build_with(plan, None)
}

/// As [`build`], with `web` as the web provider if the chain has one (`wrap`'s, which hands
/// its announcements to the log and may be listening already).
pub fn build_with(plan: &Plan, web: Option<&Web>) -> Result<Vec<Arc<dyn Provider>>, Error> {
    // Only the chat providers need the HTTP client; building it loads the system's root
    // certificates, which is most of the cost of starting with the web provider alone.
    let remote = plan
        .chain
        .iter()
        .any(|name| matches!(name, ProviderName::Telegram | ProviderName::Discord));
    let http = if remote {
        Some(crate::http::client()?)
    } else {
        None
    };
    let http = || http.clone().expect("built for the chat providers");
    plan.chain
        .iter()
        .map(|name| -> Result<Arc<dyn Provider>, Error> {
            match name {
                ProviderName::Telegram => {
                    let settings = plan.telegram.clone().expect("the plan validated telegram");
                    Ok(Arc::new(Telegram::new(http(), settings, plan.locale)))
                }
                ProviderName::Discord => {
                    let settings = plan.discord.clone().expect("the plan validated discord");
                    let env = |name: &str| std::env::var(name).ok();
                    Ok(Arc::new(Discord::new(http(), settings, plan.locale, &env)))
                }
                ProviderName::Web => {
                    Ok(Arc::new(web.cloned().unwrap_or_else(|| {
                        Web::new(plan.web.clone(), plan.locale)
                    })))
                }
            }
        })
        .collect()
}
