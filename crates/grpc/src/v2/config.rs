//! Triton's `ModelConfig` (the subset in `proto/model_config.proto`) and
//! `ModelStatistics`, from the model's registration facts, its metadata and its
//! statistics snapshot.

use ferroserve_core::{Model, Tally, tensors};
use ferroserve_tensor::DType;

use crate::pb::inference::{
    DataType, InferStatistics, ModelConfig, ModelDynamicBatching, ModelInput, ModelOutput,
    ModelStatistics, StatisticDuration,
};

/// Triton's enum for a v2 datatype name.
fn data_type(datatype: &str) -> DataType {
    match DType::from_kserve_name(datatype) {
        Some(DType::F32) => DataType::TypeFp32,
        Some(DType::F16) => DataType::TypeFp16,
        Some(DType::BF16) => DataType::TypeBf16,
        Some(DType::F64) => DataType::TypeFp64,
        Some(DType::I64) => DataType::TypeInt64,
        Some(DType::I32) => DataType::TypeInt32,
        Some(DType::I8) => DataType::TypeInt8,
        Some(DType::U8) => DataType::TypeUint8,
        Some(DType::Bool) => DataType::TypeBool,
        None => DataType::TypeInvalid,
    }
}

/// Triton's dims leave out the batch dimension when `max_batch_size` > 0.
fn dims(shape: &[i64]) -> Vec<i64> {
    shape.iter().skip(1).copied().collect()
}

pub fn model_config(model: &Model, meta: &tensors::Metadata) -> ModelConfig {
    let info = &model.info;
    ModelConfig {
        name: model.name().to_owned(),
        platform: meta.platform.into(),
        backend: "pytorch".into(),
        // The most samples one request may carry (the REST /config answers the same).
        max_batch_size: i32::try_from(meta.max_batch_size).unwrap_or(i32::MAX),
        input: meta
            .inputs
            .iter()
            .map(|t| ModelInput {
                name: t.name.clone(),
                data_type: data_type(&t.datatype) as i32,
                dims: dims(&t.shape),
            })
            .collect(),
        output: meta
            .outputs
            .iter()
            .map(|t| ModelOutput {
                name: t.name.clone(),
                data_type: data_type(&t.datatype) as i32,
                dims: dims(&t.shape),
            })
            .collect(),
        dynamic_batching: Some(ModelDynamicBatching {
            preferred_batch_size: vec![i32::try_from(info.batch_size).unwrap_or(i32::MAX)],
            max_queue_delay_microseconds: info.max_batch_delay_ms.saturating_mul(1000),
        }),
    }
}

pub fn statistics(model: &Model) -> ModelStatistics {
    let s = model.pipeline.stats();
    let d = |t: Tally| {
        Some(StatisticDuration {
            count: t.count,
            ns: t.ns,
        })
    };
    ModelStatistics {
        name: model.name().to_owned(),
        version: model.version.clone(),
        last_inference: s.last_inference_ms,
        inference_count: s.inference_count,
        execution_count: s.execution_count,
        inference_stats: Some(InferStatistics {
            success: d(s.success),
            fail: d(s.fail),
            queue: d(s.queue),
            compute_input: d(s.compute_input),
            compute_infer: d(s.compute_infer),
            compute_output: d(s.compute_output),
            cache_hit: d(Tally::default()),
            cache_miss: d(Tally::default()),
        }),
    }
}
