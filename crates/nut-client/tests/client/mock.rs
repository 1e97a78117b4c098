//! Framing tests against a scripted in-test server: the exact bytes the client writes, and
//! how it reads replies (escapes, echo checks, lists, errors, tracking ids, timeouts, TLS).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use nut_client::{Client, ErrCode, Error, TlsConfig, TrackingStatus};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::tls::{assert_handshake_fails, TestPki};

/// A one-connection server: for each step it reads one request line, then writes the reply
/// bytes as given. After the script it reads until EOF. The task returns every byte read.
struct Mock {
    task: JoinHandle<Vec<u8>>,
}

async fn serve_script<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    script: &[&str],
    seen: &mut Vec<u8>,
) {
    let mut stream = BufReader::new(stream);
    for reply in script {
        let before = seen.len();
        match stream.read_until(b'\n', seen).await {
            Ok(n) if n > 0 => {}
            _ => return,
        }
        assert!(seen.len() > before);
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
        let _ = stream.flush().await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(n) = stream.read_until(b'\n', seen).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// A [`Mock`] serving `script`, and a client connected to it.
async fn mock(script: &'static [&'static str]) -> (Mock, Client) {
    Mock::start(move |stream| async move {
        let mut seen = Vec::new();
        serve_script(stream, script, &mut seen).await;
        seen
    })
    .await
}

impl Mock {
    /// Listen on loopback, serve the first connection with `serve` (which returns every byte
    /// it read), and connect a client.
    async fn start<F, Fut>(serve: F) -> (Mock, Client)
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<u8>> + Send,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let task = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            serve(stream).await
        });
        let client = Client::connect(addr.as_str()).await.expect("connect");
        (Mock { task }, client)
    }

    /// Close `client`; what the server read from it, as text.
    async fn written(self, client: Client) -> String {
        drop(client);
        String::from_utf8(self.task.await.expect("mock task")).expect("ascii")
    }
}

#[tokio::test]
async fn get_var_writes_the_stock_request_and_unescapes_the_value() {
    let (m, mut c) = mock(&[
        "VAR ups ups.status \"OL\"\n",
        "VAR ups x \"a \\\"b\\\" \\#c \\\\d\"\n",
    ])
    .await;
    assert_eq!(c.get_var("ups", "ups.status").await.unwrap(), "OL");
    assert_eq!(c.get_var("ups", "x").await.unwrap(), "a \"b\" #c \\d");
    assert_eq!(
        m.written(c).await,
        "GET VAR ups ups.status\nGET VAR ups x\n"
    );
}

#[tokio::test]
async fn get_checks_the_echo_case_insensitively() {
    let (m, mut c) = mock(&[
        "VAR UPS Ups.Status \"OL\"\n",
        "VAR other ups.status \"OL\"\n",
        "VAR ups ups.status\n",
        "NUMLOGINS ups 3\n",
        "UPSDESC ups \"Unavailable\"\n",
        "TYPE ups ups.id RW STRING:8\n",
        "DESC ups ups.id \"UPS system identifier\"\n",
        "CMDDESC ups load.off \"Turn off the load immediately\"\n",
    ])
    .await;
    assert_eq!(c.get_var("ups", "ups.status").await.unwrap(), "OL");
    match c.get_var("ups", "ups.status").await {
        Err(Error::Protocol(msg)) => assert!(msg.contains("VAR other ups.status"), "{msg}"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        c.get_var("ups", "ups.status").await,
        Err(Error::Protocol(_))
    ));
    // A single-line protocol error keeps the connection in step.
    assert_eq!(c.get_numlogins("ups").await.unwrap(), 3);
    assert_eq!(c.get_upsdesc("ups").await.unwrap(), "Unavailable");
    assert_eq!(
        c.get_type("ups", "ups.id").await.unwrap(),
        ["RW", "STRING:8"]
    );
    assert_eq!(
        c.get_desc("ups", "ups.id").await.unwrap(),
        "UPS system identifier"
    );
    assert_eq!(
        c.get_cmddesc("ups", "load.off").await.unwrap(),
        "Turn off the load immediately"
    );
    assert_eq!(
        m.written(c).await,
        "GET VAR ups ups.status\nGET VAR ups ups.status\nGET VAR ups ups.status\n\
         GET NUMLOGINS ups\nGET UPSDESC ups\nGET TYPE ups ups.id\nGET DESC ups ups.id\n\
         GET CMDDESC ups load.off\n"
    );
}

#[tokio::test]
async fn errors_map_to_codes_and_unknown_codes_keep_their_text() {
    let (m, mut c) = mock(&[
        "ERR VAR-NOT-SUPPORTED\n",
        "ERR ACCESS-DENIED \"SSL trust failed\"\n",
        "ERR BRAND-NEW-CODE x\n",
        "VAR ups ups.status \"OL\"\n",
    ])
    .await;
    let e = c.get_var("ups", "nope").await.unwrap_err();
    assert!(matches!(e, Error::Server(ErrCode::VarNotSupported)));
    assert_eq!(e.code(), Some(ErrCode::VarNotSupported));
    assert!(matches!(
        c.login("ups").await,
        Err(Error::Server(ErrCode::AccessDenied))
    ));
    match c.request("HELP").await {
        Err(Error::ServerOther(text)) => assert_eq!(text, "BRAND-NEW-CODE x"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(c.get_var("ups", "ups.status").await.unwrap(), "OL");
    assert_eq!(
        m.written(c).await,
        "GET VAR ups nope\nLOGIN ups\nHELP\nGET VAR ups ups.status\n"
    );
}

#[tokio::test]
async fn list_accepts_mixed_case_echo_and_stops_at_end_list() {
    let (m, mut c) = mock(&[
        "begin list var UPS\nVAR ups a \"1\"\nvar Ups b \"x \\\"y\\\"\"\nEND LIST VAR ups\n",
        "BEGIN LIST UPS\nUPS ups \"Back \\#1\"\nUPS other \"Description unavailable\"\nEND LIST UPS\n",
        "BEGIN LIST CMD ups\nCMD ups load.off\nCMD ups beeper.enable\nEND LIST\n",
        "BEGIN LIST RANGE ups input.transfer.low\nRANGE ups input.transfer.low \"160\" \"180\"\nEND LIST RANGE ups input.transfer.low\n",
        "BEGIN LIST ENUM ups input.sensitivity\nENUM ups input.sensitivity \"low\"\nENUM ups input.sensitivity \"high\"\nEND LIST ENUM ups input.sensitivity\n",
        "BEGIN LIST CLIENT ups\nCLIENT ups 127.0.0.1\nEND LIST CLIENT ups\n",
        "BEGIN LIST RW ups\nEND LIST RW ups\n",
    ])
    .await;
    let vars = c.list_var("ups").await.unwrap();
    assert_eq!(
        vars,
        [
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "x \"y\"".to_string())
        ]
    );
    assert_eq!(
        c.list_ups().await.unwrap(),
        [
            ("ups".to_string(), "Back #1".to_string()),
            ("other".to_string(), "Description unavailable".to_string())
        ]
    );
    assert_eq!(
        c.list_cmd("ups").await.unwrap(),
        ["load.off", "beeper.enable"]
    );
    assert_eq!(
        c.list_range("ups", "input.transfer.low").await.unwrap(),
        [("160".to_string(), "180".to_string())]
    );
    assert_eq!(
        c.list_enum("ups", "input.sensitivity").await.unwrap(),
        ["low", "high"]
    );
    assert_eq!(c.list_client("ups").await.unwrap(), ["127.0.0.1"]);
    assert!(c.list_rw("ups").await.unwrap().is_empty());
    assert_eq!(
        m.written(c).await,
        "LIST VAR ups\nLIST UPS\nLIST CMD ups\nLIST RANGE ups input.transfer.low\n\
         LIST ENUM ups input.sensitivity\nLIST CLIENT ups\nLIST RW ups\n"
    );
}

#[tokio::test]
async fn end_list_must_be_exact_case() {
    // `end list` is not the end (upsclient compares END LIST case-sensitively); it then
    // fails the item echo check and the connection is dropped.
    let (_m, mut c) = mock(&["BEGIN LIST VAR ups\nVAR ups a \"1\"\nend list VAR ups\n"]).await;
    match c.list_var("ups").await {
        Err(Error::Protocol(msg)) => assert!(msg.contains("end list VAR ups"), "{msg}"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(!c.is_open());
    assert!(matches!(c.get_var("ups", "x").await, Err(Error::Closed)));
}

#[tokio::test]
async fn list_errors_before_and_after_begin() {
    let (m, mut c) = mock(&[
        "ERR UNKNOWN-UPS\n",
        "BEGIN LIST VAR other\nEND LIST VAR other\n",
    ])
    .await;
    assert!(matches!(
        c.list_var("nope").await,
        Err(Error::Server(ErrCode::UnknownUps))
    ));
    assert!(c.is_open(), "ERR instead of BEGIN LIST is a one-line reply");
    // Wrong echo on BEGIN LIST: the rest of the list cannot be skipped reliably.
    assert!(matches!(c.list_var("ups").await, Err(Error::Protocol(_))));
    assert!(!c.is_open());
    assert_eq!(m.written(c).await, "LIST VAR nope\nLIST VAR ups\n");

    let (_m, mut c) = mock(&["BEGIN LIST VAR ups\nVAR ups a \"1\"\nERR DATA-STALE\n"]).await;
    assert!(matches!(
        c.list_var("ups").await,
        Err(Error::Server(ErrCode::DataStale))
    ));
    assert!(!c.is_open(), "an ERR mid-list closes the connection");
}

#[tokio::test]
async fn session_commands_write_stock_bytes() {
    let (m, mut c) = mock(&[
        "OK\n",
        "OK\n",
        "OK\n",
        "ERR UNKNOWN-COMMAND\n",
        "OK MASTER-GRANTED\n",
        "OK FSD-SET\n",
        "Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/\n",
        "1.3\n",
        "OK Goodbye\n",
    ])
    .await;
    c.username("monuser").await.unwrap();
    c.password("secret").await.unwrap();
    c.login("ups").await.unwrap();
    c.primary("ups").await.unwrap();
    c.fsd("ups").await.unwrap();
    assert_eq!(
        c.ver().await.unwrap(),
        "Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/"
    );
    assert_eq!(c.netver().await.unwrap(), "1.3");
    c.logout().await.unwrap();
    assert!(!c.is_open());
    assert_eq!(
        m.written(c).await,
        "USERNAME monuser\nPASSWORD secret\nLOGIN ups\nPRIMARY ups\nMASTER ups\nFSD ups\n\
         VER\nNETVER\nLOGOUT\n"
    );
}

#[tokio::test]
async fn primary_granted_does_not_send_master() {
    let (m, mut c) = mock(&[
        "OK PRIMARY-GRANTED\n",
        "ERR ACCESS-DENIED\n",
        "ERR ACCESS-DENIED\n",
    ])
    .await;
    c.primary("ups").await.unwrap();
    assert!(matches!(
        c.primary("ups").await,
        Err(Error::Server(ErrCode::AccessDenied))
    ));
    assert_eq!(m.written(c).await, "PRIMARY ups\nPRIMARY ups\nMASTER ups\n");
}

#[tokio::test]
async fn set_and_instcmd_with_tracking_ids() {
    let (m, mut c) = mock(&[
        "OK\n",
        "OK TRACKING 2DDC5036-F665-4D29-BE4C-0374D091D263\n",
        "OK TRACKING 2DDC5036-F665-4D29-BE4C-0374D091D26\n",
        "OK TRACKING 1BD31808-CB49-4AEC-9D75-D056E6F018D2\n",
        "OK\n",
        "PENDING\n",
        "SUCCESS\n",
        "ERR FAILED\n",
        "ERR INVALID-ARGUMENT\n",
        "ERR FEATURE-NOT-CONFIGURED\n",
        "OK\n",
        "ERR READONLY\n",
    ])
    .await;
    c.set_tracking(true).await.unwrap();
    assert_eq!(
        c.set_var("ups", "ups.id", "a \"b\" #c")
            .await
            .unwrap()
            .as_deref(),
        Some("2DDC5036-F665-4D29-BE4C-0374D091D263")
    );
    // 35 characters: not a tracking id (upscmd's exact-length rule).
    assert_eq!(c.instcmd("ups", "load.off", None).await.unwrap(), None);
    assert_eq!(
        c.instcmd("ups", "load.off", Some("10"))
            .await
            .unwrap()
            .as_deref(),
        Some("1BD31808-CB49-4AEC-9D75-D056E6F018D2")
    );
    assert_eq!(c.instcmd("ups", "x", Some("a b")).await.unwrap(), None);
    let id = "1BD31808-CB49-4AEC-9D75-D056E6F018D2";
    assert_eq!(c.get_tracking(id).await.unwrap(), TrackingStatus::Pending);
    assert_eq!(c.get_tracking(id).await.unwrap(), TrackingStatus::Success);
    assert_eq!(
        c.get_tracking(id).await.unwrap(),
        TrackingStatus::Failed(ErrCode::Failed)
    );
    assert_eq!(
        c.get_tracking(id).await.unwrap(),
        TrackingStatus::Failed(ErrCode::InvalidArgument)
    );
    assert!(matches!(
        c.get_tracking(id).await,
        Err(Error::Server(ErrCode::FeatureNotConfigured))
    ));
    c.set_tracking(false).await.unwrap();
    assert!(matches!(
        c.set_var("ups", "ups.status", "OL").await,
        Err(Error::Server(ErrCode::Readonly))
    ));
    assert_eq!(
        m.written(c).await,
        "SET TRACKING ON\n\
         SET VAR ups ups.id \"a \\\"b\\\" \\#c\"\n\
         INSTCMD ups load.off\n\
         INSTCMD ups load.off 10\n\
         INSTCMD ups x \"a b\"\n\
         GET TRACKING 1BD31808-CB49-4AEC-9D75-D056E6F018D2\n\
         GET TRACKING 1BD31808-CB49-4AEC-9D75-D056E6F018D2\n\
         GET TRACKING 1BD31808-CB49-4AEC-9D75-D056E6F018D2\n\
         GET TRACKING 1BD31808-CB49-4AEC-9D75-D056E6F018D2\n\
         GET TRACKING 1BD31808-CB49-4AEC-9D75-D056E6F018D2\n\
         SET TRACKING OFF\n\
         SET VAR ups ups.status \"OL\"\n"
    );
}

#[tokio::test]
async fn non_ok_replies_to_commands_are_protocol_errors() {
    let (_m, mut c) = mock(&["VAR ups x \"1\"\n"]).await;
    match c.login("ups").await {
        Err(Error::Protocol(msg)) => assert!(msg.contains("VAR ups x"), "{msg}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn starttls_refused_leaves_clear_text_usable() {
    let (m, mut c) = mock(&[
        "ERR FEATURE-NOT-CONFIGURED\n",
        "VAR ups ups.status \"OL\"\n",
        "ERR ALREADY-SSL-MODE\n",
    ])
    .await;
    let tls = TlsConfig::dangerous_no_verify("localhost").unwrap();
    assert!(matches!(
        c.starttls(&tls).await,
        Err(Error::TlsUnavailable(ErrCode::FeatureNotConfigured))
    ));
    assert!(!c.is_tls());
    assert_eq!(c.get_var("ups", "ups.status").await.unwrap(), "OL");
    assert!(matches!(
        c.starttls(&tls).await,
        Err(Error::Server(ErrCode::AlreadySslMode))
    ));
    assert_eq!(
        m.written(c).await,
        "STARTTLS\nGET VAR ups ups.status\nSTARTTLS\n"
    );
}

#[tokio::test]
async fn eof_timeout_and_oversized_lines_close_the_connection() {
    let (m, mut c) = mock(&["VAR ups x \"1\""]).await; // no LF, then the mock waits for EOF
    c.set_timeout(Some(Duration::from_millis(200)));
    assert!(matches!(c.get_var("ups", "x").await, Err(Error::Timeout)));
    assert!(!c.is_open());
    assert!(matches!(c.get_var("ups", "x").await, Err(Error::Closed)));
    let _ = m.written(c).await;

    let (m, mut c) = mock(&[]).await;
    assert!(matches!(
        c.send_line("GET VAR ups x\nLOGOUT").await,
        Err(Error::InvalidRequest(_))
    ));
    assert!(c.is_open(), "a refused request sends nothing");
    assert_eq!(m.written(c).await, "");

    let long: &'static str = Box::leak(format!("VAR ups x \"{}\"\n", "y".repeat(5000)).into());
    let script: &'static [&'static str] = Box::leak(vec![long].into_boxed_slice());
    let (_m, mut c) = mock(script).await;
    assert!(matches!(
        c.get_var("ups", "x").await,
        Err(Error::Protocol(_))
    ));
    assert!(!c.is_open());
}

#[tokio::test]
async fn server_closing_gives_closed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        drop(s);
    });
    let mut c = Client::connect(addr).await.unwrap();
    server.await.unwrap();
    let e = c.get_var("ups", "x").await.unwrap_err();
    assert!(matches!(e, Error::Closed | Error::Io(_)), "{e:?}");
}

// ---- STARTTLS against an in-test rustls server ----------------------------------------

/// Answers STARTTLS with `OK STARTTLS`, then serves `script` inside TLS; and a client.
async fn tls_mock(
    server: Arc<rustls::ServerConfig>,
    script: &'static [&'static str],
) -> (Mock, Client) {
    Mock::start(move |mut stream| async move {
        let mut seen = Vec::new();
        // Read the STARTTLS line byte by byte so no TLS bytes get buffered here.
        let mut byte = [0u8; 1];
        loop {
            if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                return seen;
            }
            seen.push(byte[0]);
            if byte[0] == b'\n' {
                break;
            }
        }
        stream.write_all(b"OK STARTTLS\n").await.expect("write");
        let Ok(tls) = tokio_rustls::TlsAcceptor::from(server).accept(stream).await else {
            seen.extend_from_slice(b"<handshake failed>");
            return seen;
        };
        seen.extend_from_slice(b"<tls>");
        serve_script(tls, script, &mut seen).await;
        seen
    })
    .await
}

#[tokio::test]
async fn starttls_handshakes_on_the_same_socket_and_verifies_the_ca() {
    let pki = TestPki::new("nut-client test server");
    let server = pki.server_config();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();

    for name in ["127.0.0.1", "localhost"] {
        let (m, mut c) = tls_mock(server.clone(), &["VAR ups ups.status \"OL\"\n"]).await;
        c.starttls(&TlsConfig::from_ca_file(&ca_file, name).unwrap())
            .await
            .unwrap();
        assert!(c.is_tls());
        assert_eq!(c.get_var("ups", "ups.status").await.unwrap(), "OL");
        assert_eq!(
            m.written(c).await,
            "STARTTLS\n<tls>GET VAR ups ups.status\n"
        );
    }

    // A directory of PEM files (with a file that is not PEM) works as well.
    std::fs::write(dir.path().join("notes.txt"), "not a certificate\n").unwrap();
    let (m, mut c) = tls_mock(server.clone(), &["VAR ups ups.load \"5\"\n"]).await;
    c.starttls(&TlsConfig::from_ca_path(dir.path(), "localhost").unwrap())
        .await
        .unwrap();
    assert_eq!(c.get_var("ups", "ups.load").await.unwrap(), "5");
    assert_eq!(m.written(c).await, "STARTTLS\n<tls>GET VAR ups ups.load\n");

    // Wrong name: the handshake fails and the connection is gone.
    let (m, mut c) = tls_mock(server.clone(), &[]).await;
    let wrong_name = TlsConfig::from_ca_file(&ca_file, "ups.example.org").unwrap();
    assert_handshake_fails(&mut c, &wrong_name).await;
    let _ = m.written(c).await;

    // No verification at all (CERTVERIFY 0) still gets a working TLS session.
    let (m, mut c) = tls_mock(server.clone(), &["NUMLOGINS ups 0\n"]).await;
    c.starttls(&TlsConfig::dangerous_no_verify("ups.example.org").unwrap())
        .await
        .unwrap();
    assert_eq!(c.get_numlogins("ups").await.unwrap(), 0);
    assert_eq!(m.written(c).await, "STARTTLS\n<tls>GET NUMLOGINS ups\n");
}

#[test]
fn ca_file_without_certificates_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a pem file\n").unwrap();
    assert!(matches!(
        TlsConfig::from_ca_file(&empty, "localhost"),
        Err(Error::Tls(_))
    ));
    assert!(matches!(
        TlsConfig::from_ca_file(dir.path().join("missing.pem"), "localhost"),
        Err(Error::Tls(_))
    ));
    assert!(matches!(
        TlsConfig::from_ca_path(dir.path(), "localhost"),
        Err(Error::Tls(_))
    ));
    assert!(matches!(
        TlsConfig::dangerous_no_verify("not a name!"),
        Err(Error::Tls(_))
    ));
}
