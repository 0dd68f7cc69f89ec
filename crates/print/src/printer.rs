//! Sending raw commands to a network printer: one TCP connection per job (port 9100 by
//! convention, "JetDirect"), the commands, then an orderly close, all within the printer's
//! timeout. Connecting is a separate step, so a caller can find out that the printer is
//! unreachable before anything is recorded as sent.

use std::time::Duration;

use accesslog_site::PrinterSettings;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[derive(Debug, thiserror::Error)]
pub enum PrinterError {
    #[error("printer {name:?} at {addr} could not be reached: {message}")]
    Unreachable {
        name: String,
        addr: String,
        message: String,
    },
    #[error("sending to printer {name:?} at {addr} failed: {message}")]
    SendFailed {
        name: String,
        addr: String,
        message: String,
    },
}

/// A connection to a printer, ready for one job.
pub struct Connection {
    name: String,
    addr: String,
    timeout: Duration,
    stream: TcpStream,
}

/// Connects to the printer named `name`.
pub async fn connect(name: &str, printer: &PrinterSettings) -> Result<Connection, PrinterError> {
    let addr = format!("{}:{}", printer.host, printer.port);
    let timeout = Duration::from_secs(u64::from(printer.timeout_seconds));
    let unreachable = |message: String| PrinterError::Unreachable {
        name: name.to_owned(),
        addr: addr.clone(),
        message,
    };
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(&addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(unreachable(e.to_string())),
        Err(_) => {
            return Err(unreachable(format!(
                "no answer within {}s",
                timeout.as_secs()
            )));
        }
    };
    Ok(Connection {
        name: name.to_owned(),
        addr,
        timeout,
        stream,
    })
}

impl Connection {
    /// Writes `commands` and closes the connection.
    pub async fn send(mut self, commands: &[u8]) -> Result<(), PrinterError> {
        let job = async {
            self.stream.write_all(commands).await?;
            self.stream.flush().await?;
            self.stream.shutdown().await
        };
        let result = tokio::time::timeout(self.timeout, job).await;
        let message = match result {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("not finished within {}s", self.timeout.as_secs()),
        };
        Err(PrinterError::SendFailed {
            name: self.name,
            addr: self.addr,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    fn settings(port: u16) -> PrinterSettings {
        PrinterSettings {
            host: "127.0.0.1".into(),
            port,
            timeout_seconds: 2,
            description: None,
        }
    }

    #[tokio::test]
    async fn the_printer_receives_exactly_the_commands() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut all = Vec::new();
            s.read_to_end(&mut all).await.unwrap();
            all
        });
        let c = connect("label", &settings(port)).await.unwrap();
        c.send(b"^XA^FDhi^FS^XZ").await.unwrap();
        assert_eq!(received.await.unwrap(), b"^XA^FDhi^FS^XZ");
    }

    #[tokio::test]
    async fn an_unreachable_printer_is_named() {
        // Bound but not listening: the port stays ours, and connections are refused.
        let refusing = tokio::net::TcpSocket::new_v4().unwrap();
        refusing.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = refusing.local_addr().unwrap().port();
        let err = connect("label", &settings(port)).await.err().unwrap();
        assert!(matches!(err, PrinterError::Unreachable { .. }));
        assert!(
            err.to_string().contains("printer \"label\" at 127.0.0.1:"),
            "{err}"
        );
    }
}
