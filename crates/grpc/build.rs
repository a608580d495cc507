//! Compiles `proto/` into Rust with protox (a pure-Rust protobuf compiler), so building
//! needs no system `protoc`: protox parses the files into a `FileDescriptorSet`, then
//! tonic-prost-build generates messages, servers and clients from it.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/inference.proto",
        "proto/management.proto",
        "proto/grpc_service.proto",
    ];
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Clients connect through a channel the caller builds (tests): no transport here.
        .build_transport(false)
        .skip_protoc_run()
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
