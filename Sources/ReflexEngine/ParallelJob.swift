/// Work that `ComputePool.run` splits across its threads: `run(part:)` is called once for every
/// part `0..<threads`, concurrently, and must touch only its part's outputs.
///
/// A struct rather than a closure: handing a closure to the workers meant converting it to an
/// escaping one (`withoutActuallyEscaping`), which heap-allocated a context on every call.
public protocol ParallelJob {
    func run(part: Int)
}
