//! The Kubernetes manifests in `deploy/kubernetes` agree with the code: the ConfigMap's
//! `config.yaml` loads with the cluster configuration's checks, and the Deployments start the
//! processes with the flags `sluice` knows, on the ports the configuration names.

use std::path::{Path, PathBuf};

use sluice_cluster::ClusterConfig;
use yaml_rust2::{Yaml, YamlLoader};

fn manifest(name: &str) -> Vec<Yaml> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/kubernetes")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn container(deployment: &Yaml) -> &Yaml {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn args(deployment: &Yaml) -> Vec<String> {
    container(deployment)["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_config_map_loads_and_the_deployments_use_it() {
    let config_map = &manifest("configmap.yaml")[0];
    let text = config_map["data"]["config.yaml"].as_str().unwrap();
    let dir: PathBuf = std::env::temp_dir().join(format!("sluice-k8s-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.yaml"), text).unwrap();
    let config = ClusterConfig::load(&dir, None, &[]).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(config.jobmanager_address, "sluice-jobmanager");
    assert_eq!(config.ha_storage_dir.as_deref(), Some("/data/ha"));

    let jobmanager = manifest("jobmanager.yaml");
    let (deployment, service) = (&jobmanager[0], &jobmanager[1]);
    assert_eq!(
        service["metadata"]["name"].as_str(),
        Some("sluice-jobmanager")
    );
    assert_eq!(
        args(deployment)[..3],
        ["jobmanager", "--conf-dir", "/opt/sluice/conf"]
    );
    let ports: Vec<i64> = container(deployment)["ports"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|p| p["containerPort"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ports,
        [
            i64::from(config.jobmanager_port),
            i64::from(config.rest_port)
        ]
    );

    let taskmanager = &manifest("taskmanager.yaml")[0];
    let tm_args = args(taskmanager);
    assert_eq!(
        tm_args[..3],
        ["taskmanager", "--conf-dir", "/opt/sluice/conf"]
    );
    // The -D flag the TaskManager gets is a valid override.
    let flag = tm_args.iter().skip_while(|a| *a != "-D").nth(1).unwrap();
    let dir = std::env::temp_dir().join(format!("sluice-k8s-empty-{}", std::process::id()));
    ClusterConfig::load(&dir, None, std::slice::from_ref(flag)).unwrap();
}
