//! Rebuild when the embedded SQL migrations or the default catalog change,
//! since both are pulled in with `include_str!`.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=data");
}
