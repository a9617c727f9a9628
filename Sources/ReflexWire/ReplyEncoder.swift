/// Encodes reply headers (frame 0 of every reply) as compact UTF-8 JSON.
///
/// Keys come in a fixed order — `v`, `type`, `robot`, `seq`, then the type's own fields — so
/// replies are byte-for-byte reproducible and easy to eyeball in a capture. `robot` and `seq`
/// are `null` when the request's header could not be parsed that far.
public enum ReplyEncoder {
    /// `{"v":1,"type":"action","robot",...,"tensors":[{"name":"action",...}]}`; `period_s` comes
    /// just before `tensors`, only for a chunk (H > 1).
    public static func action(_ reply: ActionReply) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        begin(&writer, type: "action", robot: reply.robot, seq: reply.seq)
        writer.key("exit"); writer.integer(reply.exit)
        writer.key("exits"); writer.integer(reply.exits)
        writer.key("reason"); writer.string(reply.reason.rawValue)
        writer.key("gflops"); writer.double(reply.gflops)
        writer.key("timing_us")
        writer.beginObject()
        writer.key("queue"); writer.integer(reply.timing.queue)
        writer.key("infer"); writer.integer(reply.timing.infer)
        writer.key("total"); writer.integer(reply.timing.total)
        writer.endObject()
        if let period = reply.periodS {
            writer.key("period_s"); writer.double(period)
        }
        writer.key("tensors")
        writer.beginArray()
        tensorSpec(&writer, TensorSpec(name: "action", dtype: .float32, shape: reply.actionShape))
        writer.endArray()
        if !reply.unknownWords.isEmpty {
            writer.key("unknown_words")
            writer.beginArray()
            for word in reply.unknownWords { writer.string(word) }
            writer.endArray()
        }
        writer.endObject()
        return writer.bytes
    }

    /// `{"v":1,"type":"pong","robot","seq","model","model_sha256","version","exits","inputs"}`;
    /// `inputs` (the tensors a step must carry) goes beyond the contract so that a client can
    /// build a step without the bundle at hand.
    public static func pong(
        robot: String?, seq: UInt64?, model: String, modelSHA256: String, version: String, exits: Int,
        inputs: [TensorSpec] = []
    ) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        begin(&writer, type: "pong", robot: robot, seq: seq)
        writer.key("model"); writer.string(model)
        writer.key("model_sha256"); writer.string(modelSHA256)
        writer.key("version"); writer.string(version)
        writer.key("exits"); writer.integer(exits)
        writer.key("inputs")
        writer.beginArray()
        for spec in inputs { tensorSpec(&writer, spec) }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    /// `{"v":1,"type":"ok","robot","seq"}`: the answer to a reset.
    public static func ok(robot: String?, seq: UInt64?) -> [UInt8] {
        var writer = JSONWriter(capacity: 64)
        begin(&writer, type: "ok", robot: robot, seq: seq)
        writer.endObject()
        return writer.bytes
    }

    /// `{"v":1,"type":"error","robot","seq","code","message"}`.
    public static func error(_ error: WireError) -> [UInt8] {
        var writer = JSONWriter(capacity: 128 + error.message.utf8.count)
        begin(&writer, type: "error", robot: error.robot, seq: error.seq)
        writer.key("code"); writer.string(error.code.rawValue)
        writer.key("message"); writer.string(error.message)
        writer.endObject()
        return writer.bytes
    }

    /// `{"name","dtype","shape"}`: how both the action reply and the pong describe a tensor.
    private static func tensorSpec(_ writer: inout JSONWriter, _ spec: TensorSpec) {
        writer.beginObject()
        writer.key("name"); writer.string(spec.name)
        writer.key("dtype"); writer.string(spec.dtype.rawValue)
        writer.key("shape")
        writer.beginArray()
        for d in spec.shape { writer.integer(d) }
        writer.endArray()
        writer.endObject()
    }

    private static func begin(_ writer: inout JSONWriter, type: String, robot: String?, seq: UInt64?) {
        writer.beginObject()
        writer.key("v"); writer.integer(1)
        writer.key("type"); writer.string(type)
        writer.key("robot"); writer.optionalString(robot)
        writer.key("seq"); writer.optionalInteger(seq)
    }
}
