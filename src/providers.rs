//! Building the provider chain of a [`Plan`].

use std::sync::Arc;

use crate::config::Plan;
use crate::error::Error;
use crate::provider::{Provider, ProviderName, discord::Discord, telegram::Telegram, web::Web};

pub fn build(plan: &Plan) -> Result<Vec<Arc<dyn Provider>>, Error> {
    let http = crate::http::client()?;
    plan.chain
        .iter()
        .map(|name| -> Result<Arc<dyn Provider>, Error> {
            match name {
                ProviderName::Telegram => {
                    let settings = plan.telegram.clone().expect("the plan validated telegram");
                    Ok(Arc::new(Telegram::new(http.clone(), settings, plan.locale)))
                }
                ProviderName::Discord => {
                    let settings = plan.discord.clone().expect("the plan validated discord");
                    let env = |name: &str| std::env::var(name).ok();
                    Ok(Arc::new(Discord::new(
                        http.clone(),
                        settings,
                        plan.locale,
                        &env,
                    )))
                }
                ProviderName::Web => Ok(Arc::new(Web::new(plan.web.clone(), plan.locale))),
            }
        })
        .collect()
}
