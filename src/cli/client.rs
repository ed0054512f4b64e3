//! A small blocking HTTP client for the CLI; errors print as one line.

use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused the request.
    #[error("{status} {error}: {detail}")]
    Refused { status: u16, error: String, detail: String },
    /// The server could not be reached.
    #[error("cannot reach {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    File { path: String, source: std::io::Error },
    /// A local operation (config check, restore) failed.
    #[error("{0}")]
    Failed(String),
}

/// The CLI's connection to a stagerepo server.
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::blocking::Client,
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:8080`) sending `token` if any.
    pub fn new(base: &str, token: Option<String>) -> Client {
        let http = reqwest::blocking::Client::builder()
            .timeout(None)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("building the HTTP client");
        Client {
            base: base.trim_end_matches('/').to_string(),
            token,
            http,
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::blocking::RequestBuilder {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req
    }

    fn send<T: DeserializeOwned>(&self, req: reqwest::blocking::RequestBuilder) -> Result<(u16, T), ClientError> {
        let resp = req.send().map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            message: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            message: e.to_string(),
        })?;
        if status >= 400 {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Err(ClientError::Refused {
                status,
                error: v["error"].as_str().unwrap_or("error").to_string(),
                detail: v["detail"].as_str().map(str::to_string).unwrap_or(text),
            });
        }
        let value = serde_json::from_str(&text).map_err(|e| ClientError::Refused {
            status,
            error: "unreadable answer".into(),
            detail: e.to_string(),
        })?;
        Ok((status, value))
    }

    /// GET a JSON resource.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        Ok(self.send(self.request(reqwest::Method::GET, path))?.1)
    }

    /// GET that maps 404 to None.
    pub fn get_opt<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ClientError> {
        match self.get(path) {
            Ok(v) => Ok(Some(v)),
            Err(ClientError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// POST JSON, expecting JSON back.
    pub fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        Ok(self.send(self.request(reqwest::Method::POST, path).json(body))?.1)
    }

    /// PATCH with JSON, expecting JSON back.
    pub fn patch<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        Ok(self.send(self.request(reqwest::Method::PATCH, path).json(body))?.1)
    }

    /// DELETE a resource.
    pub fn delete(&self, path: &str) -> Result<(), ClientError> {
        let resp = self
            .request(reqwest::Method::DELETE, path)
            .send()
            .map_err(|e| ClientError::Unreachable {
                url: self.base.clone(),
                message: e.to_string(),
            })?;
        if resp.status().is_success() {
            return Ok(());
        }
        let status = resp.status().as_u16();
        let v: Value = resp.json().unwrap_or(Value::Null);
        Err(ClientError::Refused {
            status,
            error: v["error"].as_str().unwrap_or("error").to_string(),
            detail: v["detail"].as_str().unwrap_or("").to_string(),
        })
    }

    /// PUT a file, streamed from disk, with its sha256 for the server to verify.
    pub fn put_file<T: DeserializeOwned>(
        &self,
        path: &str,
        file: &Path,
        sha256: &str,
    ) -> Result<(u16, T), ClientError> {
        let f = std::fs::File::open(file).map_err(|source| ClientError::File {
            path: file.display().to_string(),
            source,
        })?;
        let len = f
            .metadata()
            .map_err(|source| ClientError::File {
                path: file.display().to_string(),
                source,
            })?
            .len();
        let body = reqwest::blocking::Body::sized(f, len);
        self.send(
            self.request(reqwest::Method::PUT, path)
                .header("X-Checksum-Sha256", sha256)
                .body(body),
        )
    }
}

/// Prints a value as pretty JSON.
pub fn print_json<T: Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).expect("serialisable"));
}

/// Prints rows as a table with a header.
pub fn print_table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(header.iter().map(|h| h.to_uppercase()));
    for row in rows {
        table.add_row(row);
    }
    println!(
        "{}",
        table
            .to_string()
            .lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
