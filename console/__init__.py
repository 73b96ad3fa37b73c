"""The composition root: the `unicorn` console script and the demo wire every other package together."""
