"""Python side of the inverse token: constants, reference model, deployment, keeper."""
