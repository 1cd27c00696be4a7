//! The database goes away and comes back: requests answer 503 `service_unavailable` quickly,
//! Ayrshare is never called without a record, `/readyz` says so, and the service recovers with
//! no restart.
//! Postgres only: a TCP proxy the test controls stands between the service and Postgres.

use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::create_post::success_body;
use crate::support::{Backend, Options, TestApp, expect_error, postgres_admin_url, response_json};

/// Forwards a local port to Postgres until it is taken down; can be brought back on the same port.
struct Proxy {
    port: u16,
    upstream: String,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = bind(0).await;
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            upstream,
            tasks: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, tasks) = (self.upstream.clone(), self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let forward = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(forward);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Refuses new connections and cuts every open one, as a dead database host would.
    fn down(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    async fn up(&self) {
        self.serve(bind(self.port).await);
    }
}

async fn bind(port: u16) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(([127, 0, 0, 1], port).into()).unwrap();
    socket.listen(64).unwrap()
}

#[tokio::test]
async fn a_dead_database_answers_503_without_calling_ayrshare_and_recovers_by_itself() {
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let admin = Url::parse(&admin_url).unwrap();
    let upstream = format!(
        "{}:{}",
        admin.host_str().unwrap(),
        admin.port().unwrap_or(5432)
    );
    let proxy = Proxy::start(upstream).await;
    let options = Options {
        database_port: Some(proxy.port),
        env: vec![("DATABASE_ACQUIRE_TIMEOUT_SECS", "1".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Postgres, options)
        .await
        .unwrap();
    Mock::given(method("POST"))
        .and(path("/api/post"))
        .respond_with(ResponseTemplate::new(200).set_body_json(success_body()))
        .mount(&app.ayrshare)
        .await;
    let body = json!({"post": "p", "platforms": ["x"]});
    assert_eq!(app.post(&body).send().await.unwrap().status(), 200);

    proxy.down();
    for _ in 0..2 {
        let response = app.post(&body).send().await.unwrap();
        assert_eq!(response.headers()["retry-after"], "5");
        let error = expect_error(response, 503, "service_unavailable").await;
        assert!(
            !error["detail"].as_str().unwrap().contains("127.0.0.1"),
            "{error}"
        );
    }
    let track = app
        .get(&format!("/social/post/track/{}", uuid::Uuid::new_v4()))
        .send()
        .await
        .unwrap();
    expect_error(track, 503, "service_unavailable").await;
    // The process is up, whatever its database does.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Not ready: a load balancer stops sending traffic here until the database is back.
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.headers()["retry-after"], "5");
    let error = expect_error(ready, 503, "service_unavailable").await;
    assert!(
        !error["detail"].as_str().unwrap().contains("127.0.0.1"),
        "{error}"
    );
    assert_eq!(
        app.ayrshare.received_requests().await.unwrap().len(),
        1,
        "no call without a record"
    );

    proxy.up().await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(response_json(ready).await["status"], "ready");
    let response = app.post(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response_json(response).await["tracked_status"], "posted");
    assert_eq!(app.ayrshare.received_requests().await.unwrap().len(), 2);
    assert_eq!(app.records().await.len(), 2);
    app.finish().await;
}
