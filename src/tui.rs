pub fn run(
    _b: crate::contacts::ContactBook,
    _e: crate::engine::EngineHandle,
) -> anyhow::Result<()> {
    Ok(())
}
