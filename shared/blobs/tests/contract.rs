#![expect(clippy::unwrap_used, reason = "a failed step is a failed test")]
//! The contract every blob backend keeps, run on a local folder always and on S3 against the
//! moto server `./tests/run.sh` starts (`LLM_GATEWAY_TEST_S3_URL`).

use gateway_blobs::local::LocalFolder;
use gateway_blobs::s3::{S3Bucket, S3Config};
use gateway_blobs::{BlobError, BlobKey, BlobStore};

fn key(name: &str) -> BlobKey {
    BlobKey::parse(name).unwrap()
}

async fn a_blob_reads_back_as_written(store: &dyn BlobStore) {
    let body = b"{\"savings\": 12.5}\n\x00\xff".to_vec();
    store
        .put(
            &key("reports/org_1/a.json"),
            body.clone(),
            "application/json",
        )
        .await
        .unwrap();
    assert_eq!(store.get(&key("reports/org_1/a.json")).await.unwrap(), body);
}

async fn a_second_put_replaces_the_blob(store: &dyn BlobStore) {
    store
        .put(&key("r/b.json"), b"first, longer".to_vec(), "text/plain")
        .await
        .unwrap();
    store
        .put(&key("r/b.json"), b"second".to_vec(), "text/plain")
        .await
        .unwrap();
    assert_eq!(store.get(&key("r/b.json")).await.unwrap(), b"second");
}

async fn a_missing_blob_is_not_found(store: &dyn BlobStore) {
    match store.get(&key("nothing/here.json")).await {
        Err(BlobError::NotFound(name)) => assert_eq!(name, "nothing/here.json"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

async fn listing_returns_whole_segments_under_the_prefix_in_order(store: &dyn BlobStore) {
    for name in [
        "l/org_2/x.json",
        "l/org_1/b.json",
        "l/org_1/a.json",
        "l/org_10/c.json",
        "m/d.json",
    ] {
        store
            .put(&key(name), Vec::new(), "application/json")
            .await
            .unwrap();
    }
    let names = |keys: Vec<BlobKey>| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    assert_eq!(
        names(store.list("l/org_1").await.unwrap()),
        ["l/org_1/a.json", "l/org_1/b.json"]
    );
    assert_eq!(
        names(store.list("l/").await.unwrap()),
        [
            "l/org_1/a.json",
            "l/org_1/b.json",
            "l/org_10/c.json",
            "l/org_2/x.json"
        ]
    );
    assert!(store.list("absent").await.unwrap().is_empty());
    assert_eq!(store.list("").await.unwrap().len(), 5);
}

macro_rules! contract_tests {
    ($make:ident) => {
        #[tokio::test]
        async fn a_blob_reads_back_as_written() {
            let (store, _guard) = $make().await;
            super::a_blob_reads_back_as_written(&store).await;
        }
        #[tokio::test]
        async fn a_second_put_replaces_the_blob() {
            let (store, _guard) = $make().await;
            super::a_second_put_replaces_the_blob(&store).await;
        }
        #[tokio::test]
        async fn a_missing_blob_is_not_found() {
            let (store, _guard) = $make().await;
            super::a_missing_blob_is_not_found(&store).await;
        }
        #[tokio::test]
        async fn listing_returns_whole_segments_under_the_prefix_in_order() {
            let (store, _guard) = $make().await;
            super::listing_returns_whole_segments_under_the_prefix_in_order(&store).await;
        }
    };
}

mod local_folder {
    use super::*;

    /// The folder is removed when the guard drops.
    struct TempDir(std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    async fn fresh() -> (LocalFolder, TempDir) {
        let dir = std::env::temp_dir().join(format!(
            "gateway-blobs-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        (LocalFolder::new(dir.join("blobs")), TempDir(dir))
    }

    fn rand_suffix() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }

    contract_tests!(fresh);

    #[tokio::test]
    async fn files_that_are_not_blob_names_are_not_listed() {
        let (store, guard) = fresh().await;
        store
            .put(&key("a/b.json"), Vec::new(), "application/json")
            .await
            .unwrap();
        std::fs::write(guard.0.join("blobs/a/b.json~partial"), b"").unwrap();
        std::fs::write(guard.0.join("blobs/a/has space"), b"").unwrap();
        let listed = store.list("a").await.unwrap();
        assert_eq!(listed, [key("a/b.json")]);
    }
}

mod s3_on_moto {
    use super::*;

    /// Where `./tests/run.sh` puts the moto server's URL.
    const URL_VAR: &str = "LLM_GATEWAY_TEST_S3_URL";

    async fn fresh() -> (S3Bucket, String) {
        let url = std::env::var(URL_VAR).unwrap_or_else(|_| {
            panic!(
                "{URL_VAR} is not set: the S3 contract tests need a moto server; \
                 run them through ./tests/run.sh, which starts one"
            )
        });
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let bucket = format!("blobs-{}-{nanos}", std::process::id());
        let store = S3Bucket::connect(&S3Config {
            bucket: bucket.clone(),
            prefix: "exports/".to_owned(),
            endpoint_url: Some(url),
            region: Some("us-east-1".to_owned()),
            credentials: Some(("testing".to_owned(), "testing".to_owned())),
        })
        .await;
        store
            .client()
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        (store, bucket)
    }

    contract_tests!(fresh);

    #[tokio::test]
    async fn objects_outside_the_prefix_are_not_listed() {
        let (store, bucket) = fresh().await;
        store
            .put(&key("a/b.json"), Vec::new(), "application/json")
            .await
            .unwrap();
        for outside in ["other/c.json", "exports/not a blob name"] {
            store
                .client()
                .put_object()
                .bucket(&bucket)
                .key(outside)
                .send()
                .await
                .unwrap();
        }
        let listed = store.list("").await.unwrap();
        assert_eq!(listed, [key("a/b.json")]);
    }
}
