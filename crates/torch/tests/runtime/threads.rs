//! Intra-op thread counts are per model, applied on the thread that runs the forward.

use ferroserve_torch::{ModelConfig, TorchModel, current_intra_op_threads};

use crate::common::*;

#[test]
fn two_models_on_two_threads_keep_their_own_counts() {
    let one =
        TorchModel::load(path("mlp"), ModelConfig::default().with_intra_op_threads(1)).unwrap();
    let three =
        TorchModel::load(path("mlp"), ModelConfig::default().with_intra_op_threads(3)).unwrap();
    let input = [rows("mlp.input", "x", 0..8)];
    let (one, three, input) = (&one, &three, &input);
    let (to_a, on_a) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let a = s.spawn(move || {
            one.forward(input).unwrap();
            assert_eq!(current_intra_op_threads(), 1);
            // Wait until thread b has set 3, then check a kept 1.
            on_a.recv().unwrap();
            one.forward(input).unwrap();
            current_intra_op_threads()
        });
        let b = s.spawn(move || {
            three.forward(input).unwrap();
            let n = current_intra_op_threads();
            to_a.send(()).unwrap();
            n
        });
        assert_eq!(b.join().unwrap(), 3);
        assert_eq!(a.join().unwrap(), 1);
    });
}

#[test]
fn a_model_without_a_count_gets_the_process_default() {
    let default = ferroserve_torch::default_intra_op_threads();
    let pinned =
        TorchModel::load(path("mlp"), ModelConfig::default().with_intra_op_threads(5)).unwrap();
    let plain = load("mlp");
    let input = [rows("mlp.input", "x", 0..1)];
    std::thread::scope(|s| {
        s.spawn(|| {
            pinned.forward(&input).unwrap();
            assert_eq!(current_intra_op_threads(), 5);
            plain.forward(&input).unwrap();
            assert_eq!(current_intra_op_threads(), default);
        });
    });
}
