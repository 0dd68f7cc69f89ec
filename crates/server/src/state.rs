//! What every handler can reach: the store, the clock and the site's settings. Cheap to
//! clone (three `Arc`s).

use std::sync::Arc;

use accesslog_core::Clock;
use accesslog_site::Settings;
use accesslog_store::Store;

#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        Self {
            store,
            clock,
            settings: Arc::new(settings),
        }
    }
}
