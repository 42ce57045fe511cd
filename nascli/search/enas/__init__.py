"""ENAS (Pham et al. 2018): shared weights, alternating training, deriving the result."""
