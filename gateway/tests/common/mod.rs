//! Helpers shared by the gateway's integration test binaries.

use std::os::unix::fs::PermissionsExt;

use local_gateway::template::{ResolveOptions, Template};

/// The project's SAM template.
pub fn project_template() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml").to_string()
}

/// A bin dir (removed on drop) with one executable per function of the project's template,
/// each re-running this test executable as the test `test_fn`: the fake function. The list
/// comes from the template, so a new route needs no change here.
pub fn fake_bin_dir(test_fn: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("lgw-bins-")
        .tempdir()
        .expect("temp dir");
    let exe = std::env::current_exe().expect("test executable");
    let script = format!(
        "#!/bin/sh\nexec '{}' {test_fn} --exact --nocapture --test-threads=1\n",
        exe.display()
    );
    let app = Template::load(project_template())
        .expect("template")
        .resolve(&ResolveOptions::default())
        .expect("resolve");
    for f in &app.functions {
        let path = dir.path().join(&f.binary);
        std::fs::write(&path, &script).expect("write script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    dir
}
