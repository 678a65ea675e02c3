//! The gateway's DynamoDB going away: its own DynamoDB Local killed, an outside endpoint
//! unreachable.

use super::*;

/// Needs Java (DynamoDB Local is installed on first use); skipped without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_dynamodb_local_is_restarted_while_the_gateway_keeps_serving() {
    if !java_available() {
        println!("SKIPPED: no java for DynamoDB Local");
        return;
    }
    let mut gw = Gateway::start(&["--in-memory"]);
    let http = reqwest::Client::new();
    // GIVEN a gateway whose own DynamoDB Local answers
    assert_eq!(gw.ddb_status(&http).await, 200);
    let started = gw
        .log_line("DynamoDB Local listening on", Duration::ZERO)
        .await;
    let pid = pid_in(&started);

    // WHEN DynamoDB Local dies
    // SAFETY: a signal to a grandchild whose pid the gateway logged.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    wait_gone(pid).await;

    // THEN the gateway keeps serving: the function answers 503 (200 if already restarted)
    let s = gw.ddb_status(&http).await;
    assert!(s == 503 || s == 200, "{s}");
    let r = http
        .get(format!("{}/", gw.api))
        .send()
        .await
        .expect("GET /");
    assert_eq!(r.status(), 200, "routes without DynamoDB are unaffected");
    assert!(gw.is_running(), "the gateway exited");
    gw.log_line(
        &format!("DynamoDB Local (pid {pid}) exited"),
        Duration::from_secs(5),
    )
    .await;

    // AND it restarts DynamoDB Local on the same port, saying that the data is gone
    let restarted = gw
        .log_line("DynamoDB Local restarted", Duration::from_secs(60))
        .await;
    assert!(restarted.contains(&gw.ddb_endpoint), "{restarted}");
    assert!(
        restarted.contains("data written before was lost"),
        "{restarted}"
    );
    let new_pid = pid_in(&restarted);
    assert_ne!(new_pid, pid);

    // AND the table is there again, so the function's calls succeed
    gw.wait_ddb_ok(&http, Duration::from_secs(10)).await;
    assert!(gw.is_running());

    // AND stopping the gateway stops the new DynamoDB Local
    assert!(gw.stop().success());
    wait_gone(new_pid).await;
}

/// A TCP forwarder to DynamoDB that the test can take down (connections refused and cut) and
/// bring back on the same port.
pub(crate) struct Proxy {
    port: u16,
    target: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    pub(crate) async fn start(target: &str) -> Proxy {
        let mut p = Proxy {
            port: 0,
            target: target.to_string(),
            task: None,
        };
        p.up().await;
        p
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind proxy");
        self.port = listener.local_addr().expect("addr").port();
        let target = self.target.clone();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                conns.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        }));
    }

    /// Stops listening and cuts every forwarded connection.
    pub(crate) fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Needs a DynamoDB (`make test` sets `DYNAMODB_ENDPOINT`); skipped without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamodb_endpoint_outage_is_outlived_and_the_missing_table_created_again() {
    let Some(endpoint) = std::env::var("DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        println!("SKIPPED: DYNAMODB_ENDPOINT is not set");
        return;
    };
    let target = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut proxy = Proxy::start(&target).await;
    let table = format!("lgw-outage-{}", std::process::id());
    let mut gw = Gateway::start(&[
        "--dynamodb-endpoint",
        &proxy.url(),
        "--table-name",
        &table,
        "--header-read-timeout",
        "0.3",
    ]);
    let http = reqwest::Client::new();
    assert_eq!(gw.ddb_status(&http).await, 200);

    // The binary's --header-read-timeout reaches its server: a slow-loris client is cut off.
    let addr = gw.api.trim_start_matches("http://").to_string();
    let held = slow_loris(&addr, Duration::from_secs(5))
        .await
        .expect("a slow-loris client still connected after 5 s");
    assert!(held < Duration::from_millis(2500), "{held:?}");
    gw.log_line(
        "its request headers did not arrive within 300ms",
        Duration::from_secs(2),
    )
    .await;

    // WHEN the outside DynamoDB goes away (and comes back empty, as an in-memory one would)
    proxy.down();
    // THEN the gateway keeps serving: the function answers 503, other routes 200
    assert_eq!(gw.ddb_status(&http).await, 503);
    let r = http
        .get(format!("{}/", gw.api))
        .send()
        .await
        .expect("GET /");
    assert_eq!(r.status(), 200);
    gw.log_line("does not answer", Duration::from_secs(10))
        .await;
    assert!(gw.is_running());
    let direct = local_gateway::client_for_endpoint(&endpoint);
    direct
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .expect("delete the table behind the gateway's back");

    // AND once DynamoDB is back, the gateway creates the table again and calls succeed
    proxy.up().await;
    gw.log_line("answers again", Duration::from_secs(10)).await;
    gw.wait_ddb_ok(&http, Duration::from_secs(10)).await;

    assert!(gw.stop().success());
    let _ = direct.delete_table().table_name(&table).send().await;
}
