//! Text normalization with an offset map (placeholder; being written).
