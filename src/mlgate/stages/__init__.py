"""The stages: one module per command, each implementing mlgate.stages.stage.Stage."""
