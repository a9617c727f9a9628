import ReflexDaemon
import ReflexScheduler
import ReflexWire
/// Mutations of a parsed request header that keep it JSON: fields removed, replaced with values
/// of the wrong type or at the edges of their range, tensor entries dropped, doubled, reordered
/// or given odd shapes. These reach the checks behind the JSON parser, which byte mutations
/// rarely get past.
enum HeaderMutator {
    static func mutate(_ header: inout JSONObject, rng: inout SplitMix64) -> StaticString {
        switch rng.below(10) {
        case 0:
            guard let key = header.keys.isEmpty ? nil : rng.pick(header.keys) else { return "remove a field" }
            header[key] = nil
            return "remove a field"
        case 1, 2, 3:
            let key = rng.pick(fieldNames)
            header[key] = value(for: key, &rng)
            return "set a field"
        default:
            return mutateTensors(&header, &rng)
        }
    }

    static let fieldNames = ["v", "type", "robot", "seq", "instruction", "deadline_ms", "tensors", "extra"]

    // MARK: Values

    static func number(_ text: String) -> WireJSON { .number(JSONNumber(validatedText: text)) }

    static let extremeNumbers: [String] = [
        "0", "-0", "1", "-1", "2", "7", "1.0", "1e0", "0.5", "1e309", "-1e309", "1e-400", "4294967296",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551615",
        "18446744073709551616", "2305843009213693952", "4611686018427387904", "1" + String(repeating: "0", count: 400),
    ]

    static let oddValues: [WireJSON] = [
        .null, .bool(true), .bool(false), .string(""), .string("NaN"), .string("Infinity"), .string("7"),
        .array([]), .object(JSONObject()), .array([.array([.array([])])]), .string(String(repeating: "x", count: 300)),
        .string("\u{0}"), .string("é"),
    ]

    private static func value(for key: String, _ rng: inout SplitMix64) -> WireJSON {
        if rng.chance(1, in: 3) { return generic(&rng) }
        switch key {
        case "v": return rng.pick([number("1"), number("2"), number("0"), .string("1"), number("1.0"), .bool(true)])
        case "type":
            return rng.pick([.string("step"), .string("ping"), .string("reset"), .string("STEP"), .string("pong"),
                             .string(""), number("1")])
        case "robot":
            return rng.pick([.string("arm-1"), .string(String(repeating: "r", count: 64)),
                             .string(String(repeating: "r", count: 65)), .string(""), .string("a/b"), .string("a b"),
                             .string("bräs"), .string("a\u{0}"), .null, number("7")])
        case "seq":
            return rng.pick([number("0"), number("7"), number("18446744073709551615"), number("18446744073709551616"),
                             number("-1"), number("7.0"), number("7e0"), .bool(true), .string("7"), .null])
        case "instruction":
            return rng.pick([.string(""), .string("open the drawer"), .string(String(repeating: "word ", count: 400)),
                             .string("\u{0}\u{1F}\""), number("5"), .null])
        case "deadline_ms":
            return rng.pick([number("0"), number("-1"), number("2.5"), number("1e309"), number("1e-400"), number("1e300"),
                             .string("5"), .null])
        case "tensors":
            return rng.pick([.array([]), .null, .object(JSONObject()), .string("image"), .array([.null]),
                             .array([.string("image"), .string("state")])])
        default: return generic(&rng)
        }
    }

    private static func generic(_ rng: inout SplitMix64) -> WireJSON {
        rng.chance(1, in: 2) ? number(rng.pick(extremeNumbers)) : rng.pick(oddValues)
    }

    // MARK: Tensors

    private static func mutateTensors(_ header: inout JSONObject, _ rng: inout SplitMix64) -> StaticString {
        guard case .array(var entries)? = header["tensors"], !entries.isEmpty else {
            header["tensors"] = .array([spec("image", "uint8", [32, 32, 3]), spec("state", "float32", [4])])
            return "list the tensors"
        }
        let position = rng.below(entries.count)
        let name: StaticString
        switch rng.below(8) {
        case 0:
            entries.remove(at: position)
            name = "remove a tensor"
        case 1:
            entries.insert(entries[position], at: rng.below(entries.count + 1))
            name = "list a tensor twice"
        case 2:
            entries.swapAt(position, rng.below(entries.count))
            name = "reorder the tensors"
        case 3:
            entries[position] = generic(&rng)
            name = "replace a tensor entry"
        default:
            guard case .object(var fields) = entries[position] else { return "keep" }
            name = mutateSpec(&fields, &rng)
            entries[position] = .object(fields)
        }
        header["tensors"] = .array(entries)
        return name
    }

    private static func spec(_ name: String, _ dtype: String, _ shape: [Int]) -> WireJSON {
        .object(["name": .string(name), "dtype": .string(dtype), "shape": .array(shape.map { .number(JSONNumber($0)) })])
    }

    private static func mutateSpec(_ fields: inout JSONObject, _ rng: inout SplitMix64) -> StaticString {
        switch rng.below(7) {
        case 0:
            fields[rng.pick(["name", "dtype", "shape"])] = nil
            return "remove a tensor field"
        case 1:
            fields["name"] = rng.pick([.string("image"), .string("state"), .string(""), .string("depth"), .string("IMAGE"),
                                       number("1"), .null])
            return "set a tensor name"
        case 2:
            fields["dtype"] = rng.pick([.string("uint8"), .string("float32"), .string("float64"), .string("int8"),
                                        .string(""), number("1")])
            return "set a dtype"
        default:
            guard case .array(var shape)? = fields["shape"] else {
                fields["shape"] = rng.chance(1, in: 2) ? generic(&rng) : .array([number("4")])
                return "set a shape"
            }
            let dimensions = ["0", "1", "3", "4", "32", "33", "-1", "-32", "4294967296", "4611686018427387904",
                              "9223372036854775807", "9223372036854775808", "18446744073709551616", "3.0", "3e0", "3072"]
            switch rng.below(4) {
            case 0 where !shape.isEmpty:
                shape.remove(at: rng.below(shape.count))
            case 1:
                shape.insert(number(rng.pick(dimensions)), at: rng.below(shape.count + 1))
            case 2 where !shape.isEmpty:
                shape[rng.below(shape.count)] = rng.chance(1, in: 4) ? generic(&rng) : number(rng.pick(dimensions))
            default:
                let count = 1 + rng.below(rng.chance(1, in: 4) ? 3000 : 8)
                shape = (0..<count).map { _ in number(rng.pick(["1", "2", "32", "4294967296"])) }
            }
            fields["shape"] = .array(shape)
            return "change a shape"
        }
    }
}
