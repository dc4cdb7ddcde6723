pub fn run(
    _b: crate::contacts::ContactBook,
    _p: Option<std::path::PathBuf>,
    _c: Vec<crate::cli::Conversation>,
    _e: crate::engine::EngineHandle,
) -> anyhow::Result<()> {
    Ok(())
}
