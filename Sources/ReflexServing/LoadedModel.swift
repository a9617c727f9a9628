import ReflexEngine
import ReflexWire

/// The model as served: the engine opened to the depth the memory cap allows, its reusable
/// step buffers, and the request decoder that knows its inputs.
package final class LoadedModel {
    package let policy: MultiExitPolicy
    package let workspace: StepWorkspace
    package var output: StepOutput
    package let decoder: RequestDecoder
    package let directory: String

    package init(directory: String, upToExit: Int?, maxMessageBytes: Int, threads: Int) throws {
        let bundle = try ModelBundle(directory: directory, upToExit: upToExit)
        policy = MultiExitPolicy(bundle: bundle)
        workspace = policy.makeWorkspace(threads: threads)
        output = policy.makeOutput()
        self.directory = directory
        let inputs = bundle.manifest.inputs.map {
            TensorSpec(name: $0.name, dtype: $0.dtype == "uint8" ? .uint8 : .float32, shape: $0.shape)
        }
        let norm = bundle.manifest.stateNorm
        decoder = RequestDecoder(inputs: inputs, maxMessageBytes: maxMessageBytes,
                                 ranges: ["state": InputRange.fromNormalisation(mean: norm.mean, std: norm.std)])
    }

    package var bundle: ModelBundle { policy.bundle }
    package var exits: Int { policy.cost.exits }
}
