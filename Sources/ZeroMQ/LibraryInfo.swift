import CZeroMQ

/// The version of the libzmq linked at run time, e.g. "4.3.4".
public var zmqVersion: String {
    var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
    zmq_version(&major, &minor, &patch)
    return "\(major).\(minor).\(patch)"
}

/// Whether the linked libzmq supports `capability` ("curve", "ipc", "draft", ...).
public func hasCapability(_ capability: String) -> Bool {
    zmq_has(capability) == 1
}
