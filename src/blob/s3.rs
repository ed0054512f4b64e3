//! The S3 engine of [`BlobStore`], over `object_store`'s client.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path as Key;
use object_store::signer::{Method, Signer};
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig, UpdateVersion,
    WriteMultipart,
};

use super::{BlobError, BlobResult, BlobStore, ObjectWriter, PART};
use crate::config::S3Config;

/// A bucket on an S3-compatible store.
pub struct S3Store {
    client: Arc<AmazonS3>,
    prefix: String,
    /// The client is async; it runs on its own small runtime so that any thread (the daemon's
    /// blocking threads, the CLI, tests) can wait for it.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for S3Store {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime (the daemon's, at
        // shutdown): let its threads go in the background instead.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl S3Store {
    /// Connects to the bucket of `config` (credentials unset there come from `AWS_*`).
    pub fn new(config: &S3Config) -> BlobResult<S3Store> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_region(config.region.as_deref().unwrap_or("us-east-1"))
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            // Fail within seconds when the store is down: an upload then answers 503 and a
            // publication's copy is retried by the worker loop, instead of requests hanging
            // through minutes of retries.
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(15),
                ..Default::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(3))
                    .with_timeout(Duration::from_secs(60)),
            );
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let Some(id) = &config.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let client = builder.build().map_err(store)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("stagerepo-s3")
            .enable_all()
            .build()
            .map_err(|e| BlobError::Store(format!("starting the S3 client: {e}")))?;
        let prefix = config.prefix.trim_matches('/').to_string();
        Ok(S3Store {
            client: Arc::new(client),
            prefix,
            runtime: Some(runtime),
        })
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("present until dropped")
    }

    fn key(&self, key: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(key)
        } else {
            Key::from(format!("{}/{key}", self.prefix))
        }
    }

    /// Runs `f` on the client's runtime and waits for it, from any thread (also one inside
    /// another runtime, where `block_on` would panic).
    fn run<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = BlobResult<T>> + Send + 'static,
    ) -> BlobResult<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime().spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv()
            .map_err(|_| BlobError::Store("the S3 client stopped".into()))?
    }
}

fn store(e: object_store::Error) -> BlobError {
    BlobError::Store(e.to_string())
}

impl BlobStore for S3Store {
    fn put_file(&self, key: &str, path: &Path) -> BlobResult<()> {
        let io = |source| BlobError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let (client, location) = (self.client.clone(), self.key(key));
        if len <= PART as u64 {
            let mut bytes = Vec::with_capacity(len as usize);
            file.read_to_end(&mut bytes).map_err(io)?;
            return self.run(async move {
                client.put(&location, PutPayload::from(bytes)).await.map_err(store)?;
                Ok(())
            });
        }
        let mut writer = self.writer(key)?;
        let mut part = vec![0u8; PART];
        loop {
            let n = file.read(&mut part).map_err(io)?;
            if n == 0 {
                break;
            }
            writer.write(&part[..n])?;
        }
        writer.finish()
    }

    fn writer(&self, key: &str) -> BlobResult<Box<dyn ObjectWriter>> {
        let (client, location) = (self.client.clone(), self.key(key));
        // Parts go to the client's runtime one at a time: the channel holds one, the upload
        // task another.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Part>(1);
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        self.runtime().spawn(async move {
            let result = async {
                let mut writer =
                    WriteMultipart::new_with_chunk_size(client.put_multipart(&location).await.map_err(store)?, PART);
                loop {
                    match rx.recv().await {
                        Some(Part::Bytes(bytes)) => {
                            if let Err(e) = writer.wait_for_capacity(1).await {
                                writer.abort().await.ok();
                                return Err(store(e));
                            }
                            writer.write(&bytes);
                        }
                        Some(Part::Finish) => return writer.finish().await.map(|_| ()).map_err(store),
                        // Dropped unfinished: the parts sent so far are discarded by the store.
                        None => {
                            writer.abort().await.ok();
                            return Err(BlobError::Store("abandoned".into()));
                        }
                    }
                }
            }
            .await;
            let _ = done_tx.send(result);
        });
        Ok(Box::new(S3Writer {
            tx: Some(tx),
            buffer: Vec::with_capacity(PART),
            done: done_rx,
        }))
    }

    fn copy(&self, from: &str, to: &str) -> BlobResult<()> {
        let (client, from, to) = (self.client.clone(), self.key(from), self.key(to));
        self.run(async move { client.copy(&from, &to).await.map_err(store) })
    }

    fn put(&self, key: &str, bytes: Vec<u8>) -> BlobResult<()> {
        let (client, location) = (self.client.clone(), self.key(key));
        self.run(async move {
            client.put(&location, PutPayload::from(bytes)).await.map_err(store)?;
            Ok(())
        })
    }

    fn replace(&self, key: &str, bytes: Vec<u8>, previous: Option<&str>) -> BlobResult<String> {
        let (client, location, name) = (self.client.clone(), self.key(key), key.to_string());
        let mode = match previous {
            Some(etag) => PutMode::Update(UpdateVersion {
                e_tag: Some(etag.to_string()),
                version: None,
            }),
            None => PutMode::Create,
        };
        self.run(async move {
            let options = PutOptions {
                mode,
                ..Default::default()
            };
            match client.put_opts(&location, PutPayload::from(bytes), options).await {
                Ok(r) => Ok(r.e_tag.unwrap_or_default()),
                Err(object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. }) => {
                    Err(BlobError::Conflict { key: name })
                }
                Err(e) => Err(store(e)),
            }
        })
    }

    fn etag(&self, key: &str) -> BlobResult<Option<String>> {
        let (client, location) = (self.client.clone(), self.key(key));
        self.run(async move {
            match client.head(&location).await {
                Ok(meta) => Ok(Some(meta.e_tag.unwrap_or_default())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(store(e)),
            }
        })
    }

    fn get(&self, key: &str) -> BlobResult<Vec<u8>> {
        let (client, location, name) = (self.client.clone(), self.key(key), key.to_string());
        self.run(async move {
            match client.get(&location).await {
                Ok(r) => Ok(r.bytes().await.map_err(store)?.to_vec()),
                Err(object_store::Error::NotFound { .. }) => Err(BlobError::NotFound { key: name }),
                Err(e) => Err(store(e)),
            }
        })
    }

    fn list(&self, prefix: &str) -> BlobResult<Vec<String>> {
        let client = self.client.clone();
        let location = self.key(prefix.trim_end_matches('/'));
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        self.run(async move {
            let mut keys = Vec::new();
            let mut stream = client.list(Some(&location));
            while let Some(meta) = stream.next().await {
                let meta = meta.map_err(store)?;
                let key = meta.location.to_string();
                keys.push(key.strip_prefix(&strip).unwrap_or(&key).to_string());
            }
            Ok(keys)
        })
    }

    fn delete(&self, key: &str) -> BlobResult<()> {
        let (client, location) = (self.client.clone(), self.key(key));
        self.run(async move {
            match client.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(store(e)),
            }
        })
    }

    fn presigned_get(&self, key: &str, ttl: Duration) -> BlobResult<String> {
        let (client, location) = (self.client.clone(), self.key(key));
        self.run(async move {
            let url = client.signed_url(Method::GET, &location, ttl).await.map_err(store)?;
            Ok(url.to_string())
        })
    }
}

/// What an [`S3Writer`] hands to its upload task.
enum Part {
    Bytes(Vec<u8>),
    Finish,
}

/// A multipart upload fed from any (non-async) thread.
struct S3Writer {
    tx: Option<tokio::sync::mpsc::Sender<Part>>,
    buffer: Vec<u8>,
    done: std::sync::mpsc::Receiver<BlobResult<()>>,
}

impl S3Writer {
    fn send(&mut self, part: Part) -> BlobResult<()> {
        let tx = self.tx.as_ref().expect("present until finished");
        if tx.blocking_send(part).is_err() {
            // The task ended early: its error says why.
            self.tx = None;
            return Err(self
                .done
                .recv()
                .unwrap_or_else(|_| Err(BlobError::Store("the S3 client stopped".into())))
                .err()
                .unwrap_or_else(|| BlobError::Store("the upload ended early".into())));
        }
        Ok(())
    }
}

impl ObjectWriter for S3Writer {
    fn write(&mut self, mut bytes: &[u8]) -> BlobResult<()> {
        while !bytes.is_empty() {
            let take = (PART - self.buffer.len()).min(bytes.len());
            self.buffer.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buffer.len() == PART {
                let full = std::mem::replace(&mut self.buffer, Vec::with_capacity(PART));
                self.send(Part::Bytes(full))?;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> BlobResult<()> {
        if !self.buffer.is_empty() {
            let rest = std::mem::take(&mut self.buffer);
            self.send(Part::Bytes(rest))?;
        }
        self.send(Part::Finish)?;
        self.tx = None;
        self.done
            .recv()
            .map_err(|_| BlobError::Store("the S3 client stopped".into()))?
    }
}
