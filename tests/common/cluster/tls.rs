//! Certificates for the mutual-TLS cluster tests, made with openssl.

use std::path::Path;
use std::process::Command;

/// A certificate authority and a certificate it signed for `sluice-internal` (or `name`), made
/// with openssl in `dir`; returns the `-D` settings that enable mutual TLS with them.
pub fn tls_settings(dir: &Path, name: &str, authority: &str) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // `openssl req` making a new P-256 key and a request (or, with -x509, a certificate).
    let new_key = |key: &str, out: &str, subject: &str, extra: &[&str]| {
        let mut args = vec![
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            key,
            "-out",
            out,
            "-subj",
            subject,
        ];
        args.extend_from_slice(extra);
        openssl(&args);
    };
    let ca_key = format!("{authority}.key");
    let ca_pem = format!("{authority}.pem");
    if !dir.join(&ca_pem).exists() {
        new_key(
            &ca_key,
            &ca_pem,
            &format!("/CN={authority}"),
            &[
                "-x509",
                "-days",
                "2",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
    }
    let node = format!("{authority}-{name}");
    new_key(
        &format!("{node}.key"),
        &format!("{node}.csr"),
        &format!("/CN={name}"),
        &[],
    );
    std::fs::write(
        dir.join(format!("{node}.ext")),
        format!("subjectAltName=DNS:{name}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n"),
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &format!("{node}.csr"),
        "-CA",
        &ca_pem,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &format!("{node}.pem"),
        "-days",
        "2",
        "-extfile",
        &format!("{node}.ext"),
    ]);
    let path = |file: String| dir.join(file).display().to_string();
    vec![
        "-D".into(),
        "security.ssl.internal.enabled=true".into(),
        "-D".into(),
        format!(
            "security.ssl.internal.cert-file={}",
            path(format!("{node}.pem"))
        ),
        "-D".into(),
        format!(
            "security.ssl.internal.key-file={}",
            path(format!("{node}.key"))
        ),
        "-D".into(),
        format!("security.ssl.internal.ca-file={}", path(ca_pem.clone())),
    ]
}
