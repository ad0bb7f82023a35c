"""Training style networks (Johnson training, distillation, temporal fine-tuning), their content data, and Gatys optimisation."""
