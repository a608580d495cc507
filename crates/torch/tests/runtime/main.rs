//! ferroserve-torch against real TorchScript models, made by
//! `examples/models/make_test_models.py` into a cache directory on first use
//! (`ferroserve_torch::test_models`). One test binary, so libtorch is linked once.
//! `batched*` run the models through a real `ferroserve_batcher::Batcher`.

mod batched;
mod batched_outcomes;
mod common;
mod devices;
mod dtypes;
mod errors;
mod mlp;
mod outputs;
mod resnet;
mod threads;
