// Node-only parts of @normkit/tensor (worker threads); kept out of the browser entry point.
export {};
