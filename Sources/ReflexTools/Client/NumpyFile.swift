import Foundation
import ReflexDaemon

/// Reads `.npy` files (format 1.0–3.0, C order, little-endian uint8 or float32): the CLI's way
/// to send a real image or state.
public struct NumpyFile {
    public let dtype: String   // "uint8" | "float32"
    public let shape: [Int]
    public let bytes: [UInt8]

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw NumpyError("\(path): cannot read") }
        let b = [UInt8](data)
        guard b.count >= 10, b[0] == 0x93, Array(b[1...5]) == Array("NUMPY".utf8) else { throw NumpyError("\(path): not a .npy file") }
        let major = b[6]
        let (len, start) = major == 1 ? (Int(b[8]) | Int(b[9]) << 8, 10)
            : (Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24, 12)
        guard start + len <= b.count else { throw NumpyError("\(path): truncated header") }
        let header = String(decoding: b[start..<(start + len)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descr = field("descr"), let order = field("fortran_order"), let shapeText = field("shape") else {
            throw NumpyError("\(path): header lacks descr/fortran_order/shape")
        }
        guard order.hasPrefix("False") else { throw NumpyError("\(path): Fortran order is not supported; save C order") }
        if descr.hasPrefix("'|u1'") || descr.hasPrefix("'u1'") { dtype = "uint8" }
        else if descr.hasPrefix("'<f4'") { dtype = "float32" }
        else { throw NumpyError("\(path): dtype \(descr.prefix(6)) is not supported (uint8, little-endian float32)") }
        let inner = shapeText.dropFirst().prefix { $0 != ")" }
        shape = inner.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *) * (dtype == "uint8" ? 1 : 4)
        guard b.count - start - len >= count else { throw NumpyError("\(path): \(b.count - start - len) data bytes, shape needs \(count)") }
        bytes = Array(b[(start + len)..<(start + len + count)])
    }
}

public struct NumpyError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
