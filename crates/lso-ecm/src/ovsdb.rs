//! A small OVSDB client (RFC 7047): JSON-RPC over one TCP connection, `transact` requests,
//! and answers to the server's `echo` keep-alives.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// What can go wrong talking OVSDB.
#[derive(Debug, thiserror::Error)]
pub enum OvsdbError {
    /// The connection failed.
    #[error("OVSDB connection: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent something that is not OVSDB JSON-RPC.
    #[error("OVSDB protocol: {0}")]
    Protocol(String),
    /// The server refused the request, or an operation of the transaction failed.
    #[error("OVSDB refused: {0}")]
    Refused(String),
}

/// A connection to one `ovsdb-server`.
pub struct OvsdbClient {
    stream: Mutex<Connection>,
}

struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    next_id: u64,
}

impl OvsdbClient {
    /// Connects to `address` (`host:port`).
    pub async fn connect(address: &str) -> Result<Self, OvsdbError> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(OvsdbClient { stream: Mutex::new(Connection { stream, buffer: Vec::new(), next_id: 1 }) })
    }

    /// Runs `operations` as one transaction on `database`; returns the result of each
    /// operation, or the first error one of them reports.
    pub async fn transact(&self, database: &str, operations: Vec<Value>) -> Result<Vec<Value>, OvsdbError> {
        let mut params = vec![Value::from(database)];
        params.extend(operations);
        let result = self.call("transact", Value::Array(params)).await?;
        let results =
            result.as_array().cloned().ok_or_else(|| OvsdbError::Protocol(format!("transact answered {result}")))?;
        if let Some(failed) = results.iter().find(|r| r.get("error").is_some_and(|e| !e.is_null())) {
            let details = failed.get("details").and_then(Value::as_str).unwrap_or_default();
            return Err(OvsdbError::Refused(format!("{} {details}", failed["error"]).trim().to_owned()));
        }
        Ok(results)
    }

    /// Asks the server to echo, to learn whether the connection still works.
    pub async fn echo(&self) -> Result<(), OvsdbError> {
        let sent = json!(["lso"]);
        let answer = self.call("echo", sent.clone()).await?;
        if answer == sent { Ok(()) } else { Err(OvsdbError::Protocol(format!("echo answered {answer}"))) }
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, OvsdbError> {
        let mut connection = self.stream.lock().await;
        let id = connection.next_id;
        connection.next_id += 1;
        let request = json!({"method": method, "params": params, "id": id});
        connection.stream.write_all(request.to_string().as_bytes()).await?;
        loop {
            let message = connection.next_message().await?;
            if message.get("method").and_then(Value::as_str) == Some("echo") {
                let reply = json!({"result": message["params"], "error": null, "id": message["id"]});
                connection.stream.write_all(reply.to_string().as_bytes()).await?;
                continue;
            }
            if message["id"] != json!(id) {
                continue; // an update or a late answer of a call that gave up
            }
            if !message["error"].is_null() {
                return Err(OvsdbError::Refused(message["error"].to_string()));
            }
            return Ok(message["result"].clone());
        }
    }
}

impl Connection {
    /// The next complete JSON value from the stream.
    async fn next_message(&mut self) -> Result<Value, OvsdbError> {
        loop {
            let mut values = serde_json::Deserializer::from_slice(&self.buffer).into_iter::<Value>();
            match values.next() {
                Some(Ok(value)) => {
                    let used = values.byte_offset();
                    self.buffer.drain(..used);
                    return Ok(value);
                }
                Some(Err(err)) if !err.is_eof() => return Err(OvsdbError::Protocol(err.to_string())),
                _ => {}
            }
            let mut chunk = [0u8; 8192];
            let read = self.stream.read(&mut chunk).await?;
            if read == 0 {
                return Err(OvsdbError::Protocol("the server closed the connection".into()));
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }
}
