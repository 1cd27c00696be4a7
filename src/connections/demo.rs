//! The sandbox's demo customer: a workspace with an Ayrshare profile of its own (created at the
//! in-process simulator) and one account linked through the simulator's linking page, as a
//! person would, so that `serve --sandbox` shows the whole connections flow at once.

use serde_json::{Value, json};
use url::Url;

use super::Connections;
use crate::domain::Platform;
use crate::store::{Caller, DynStore};

/// The demo workspace's name (also its profile's title at the simulator).
pub const DEMO_WORKSPACE: &str = "demo customer";

/// What was made.
#[derive(Clone, Debug)]
pub struct DemoWorkspace {
    pub workspace_id: uuid::Uuid,
    /// The account linked (its username at the simulator).
    pub linked: String,
}

impl Connections {
    /// Creates the demo workspace for `caller`'s organization: a profile at the simulator
    /// (`simulator` is its base URL, `…/api`), the workspace holding its key, and X linked
    /// through the linking page. Sandbox only: this calls the simulator without the care a
    /// real profile creation needs (see `POST /workspaces`).
    pub async fn create_demo_workspace(
        &self,
        store: &DynStore,
        caller: Caller,
        simulator: &Url,
    ) -> Result<DemoWorkspace, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        let base = simulator.as_str().trim_end_matches('/');
        let created: Value = http
            .post(format!("{base}/profiles"))
            .bearer_auth("sandbox")
            .json(&json!({"title": DEMO_WORKSPACE}))
            .send()
            .await
            .map_err(|e| format!("the simulator's POST /profiles: {e}"))?
            .json()
            .await
            .map_err(|e| format!("the simulator's POST /profiles answer: {e}"))?;
        let key = created["profileKey"]
            .as_str()
            .ok_or("the simulator answered no profileKey")?;
        let workspace = store
            .create_workspace(caller.organization_id, DEMO_WORKSPACE, Some(key))
            .await
            .map_err(|e| e.to_string())?;
        let connect = self
            .connect(
                caller,
                Platform::X.as_str(),
                Some(json!({"workspace_id": workspace.id})),
                &[],
            )
            .await
            .map_err(|e| e.to_string())?;
        let pressed = http
            .post(&connect.connect_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("link={}", Platform::X.ayrshare_name()))
            .send()
            .await
            .map_err(|e| format!("the simulator's linking page: {e}"))?;
        if !pressed.status().is_success() {
            return Err(format!(
                "the simulator's linking page answered {}",
                pressed.status()
            ));
        }
        let status = self
            .status(
                caller,
                Platform::X.as_str(),
                &[("workspace_id".to_owned(), workspace.id.to_string())],
            )
            .await
            .map_err(|e| e.to_string())?;
        let linked = status
            .account
            .and_then(|a| a.username)
            .ok_or("the demo account did not link")?;
        Ok(DemoWorkspace {
            workspace_id: workspace.id,
            linked,
        })
    }
}
