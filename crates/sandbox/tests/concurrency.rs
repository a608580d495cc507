//! The async API: calls run off the runtime, admission is bounded, and a full sandbox
//! refuses at once with a typed outcome instead of queueing without bound.

mod common;

use std::time::Duration;

use common::*;
use ferroserve_sandbox::{Limits, Sandbox, SandboxConfig};
use ferroserve_tensor::Tensor;
use ferroserve_test_fixtures as fx;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_round_trip() {
    let files = Files::new();
    let sandbox = sandbox(None);
    let handler = load(&sandbox, fx::OK, Some(&files.dir()), limits());
    let prepared = handler.preprocess(body("[0.5, 1.5]")).await.unwrap();
    assert_eq!(prepared.inputs[0].shape(), &[2]);
    assert_eq!(prepared.context, LABELS.as_bytes());
    let out = Tensor::from_f32("output", vec![2], &[3.0, 4.0]).unwrap();
    let response = handler
        .postprocess(vec![out], prepared.context)
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.content_type, "application/json");
    let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({ "outputs": { "output": [3.0, 4.0] }, "labels": 2 })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_calls_all_answer() {
    let sandbox = Sandbox::new(SandboxConfig {
        queue_depth: 64,
        ..config(None)
    })
    .unwrap();
    let handler = load(&sandbox, fx::OK, None, limits());
    let calls = (0..64).map(|i| {
        let h = handler.clone();
        tokio::spawn(async move { h.preprocess(body(&format!("[{i}]"))).await })
    });
    for (i, call) in calls.enumerate() {
        let prepared = call.await.unwrap().unwrap();
        assert_eq!(prepared.inputs[0].to_f32().unwrap(), vec![i as f32]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sandbox_refuses_at_once() {
    let sandbox = Sandbox::new(SandboxConfig {
        threads: 1,
        queue_depth: 0,
        ..config(None)
    })
    .unwrap();
    let spin = load(
        &sandbox,
        fx::SPIN,
        None,
        Limits {
            deadline: Duration::from_millis(300),
            ..limits()
        },
    );
    let ok = load(&sandbox, fx::OK, None, limits());
    let busy = tokio::spawn({
        let spin = spin.clone();
        async move { spin.preprocess(body("{}")).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = ok.preprocess(body("[1]")).await.unwrap_err();
    assert_eq!(err.kind(), "SandboxPoolExhausted");
    assert_eq!(
        err.to_string(),
        "all 1 sandbox slots are busy; retry shortly"
    );
    assert_eq!(
        busy.await.unwrap().unwrap_err().kind(),
        "HandlerDeadlineExceeded"
    );
    ok.preprocess(body("[1]"))
        .await
        .expect("room again once the slot is free");
}

#[test]
fn on_demand_allocation_works_too() {
    let sandbox = Sandbox::new(SandboxConfig {
        pooling: false,
        ..config(None)
    })
    .unwrap();
    assert_eq!(sandbox.allocator(), ferroserve_sandbox::Allocator::OnDemand);
    assert_well_behaved_works(&sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_sleeping_on_every_thread_it_may_hold_leaves_the_rest_to_others() {
    // 4 threads, 2 per tenant. Tenant a sends 8 calls that sleep until their 2 s deadline;
    // tenant b's calls must all answer while a's are still asleep (without lanes, a's calls
    // took all 4 threads and b waited for their deadlines).
    let sandbox = Sandbox::new(SandboxConfig {
        threads: 4,
        threads_per_group: 2,
        queue_depth: 16,
        ..config(None)
    })
    .unwrap();
    let slow = Limits {
        deadline: Duration::from_secs(2),
        ..limits()
    };
    let sleeper = load_in(&sandbox, "a", fx::SLEEP, None, slow);
    let ok = load_in(&sandbox, "b", fx::OK, None, limits());
    let sleeps: Vec<_> = (0..8)
        .map(|_| {
            let h = sleeper.clone();
            tokio::spawn(async move { h.preprocess(body("10")).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..20 {
        let prepared = ok.preprocess(body(&format!("[{i}]"))).await.unwrap();
        assert_eq!(prepared.inputs[0].to_f32().unwrap(), vec![i as f32]);
    }
    assert!(
        sleeps.iter().all(|s| !s.is_finished()),
        "b answered while a's calls slept"
    );
    // a's calls end at their deadline, two at a time: none of them is lost.
    for s in sleeps {
        assert_eq!(
            s.await.unwrap().unwrap_err().kind(),
            "HandlerDeadlineExceeded"
        );
    }
}
