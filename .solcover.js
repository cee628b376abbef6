module.exports = {
  // Test doubles are not part of the product.
  skipFiles: ["mocks/"],
  // The optimizer with viaIR is required to compile; coverage instruments around it.
  configureYulOptimizer: true,
};
