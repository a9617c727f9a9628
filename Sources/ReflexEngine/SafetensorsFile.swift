import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A safetensors file opened for random access: the header is parsed once and each tensor is
/// read with `pread` when asked for, so a partially loaded model never reads the layers it skips.
public struct SafetensorsFile {
    public enum StorageType: String, Sendable {
        case f32 = "F32", bf16 = "BF16", f16 = "F16", u8 = "U8", i8 = "I8"
        var size: Int { self == .f32 ? 4 : (self == .u8 || self == .i8) ? 1 : 2 }
    }

    public struct Entry: Sendable {
        public let dtype: StorageType
        public let shape: [Int]
        public let begin: Int
        public let end: Int
    }

    public let path: String
    public let entries: [String: Entry]
    private let dataStart: Int

    /// Largest header accepted: a sane bound so a corrupt length cannot make us allocate wildly.
    static let maxHeaderBytes = 64 << 20

    public init(path: String) throws {
        self.path = path
        let name = (path as NSString).lastPathComponent
        guard FileManager.default.fileExists(atPath: path) else { throw EngineError.missingFile(path) }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw EngineError.missingFile("\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw EngineError.badWeights(file: name, message: "cannot stat") }
        let fileSize = Int(st.st_size)
        guard fileSize >= 8 else { throw EngineError.badWeights(file: name, message: "truncated: \(fileSize) bytes, no header") }
        var lenBytes = [UInt8](repeating: 0, count: 8)
        guard pread(fd, &lenBytes, 8, 0) == 8 else { throw EngineError.badWeights(file: name, message: "cannot read header length") }
        let headerLen = lenBytes.enumerated().reduce(UInt64(0)) { $0 | (UInt64($1.element) << (8 * UInt64($1.offset))) }
        guard headerLen > 0, headerLen <= UInt64(Self.maxHeaderBytes), Int(headerLen) <= fileSize - 8 else {
            throw EngineError.badWeights(file: name, message: "bad header length \(headerLen) for a file of \(fileSize) bytes")
        }
        var header = [UInt8](repeating: 0, count: Int(headerLen))
        guard pread(fd, &header, Int(headerLen), 8) == Int(headerLen) else {
            throw EngineError.badWeights(file: name, message: "truncated header")
        }
        guard let json = try? JSONSerialization.jsonObject(with: Data(header)) as? [String: Any] else {
            throw EngineError.badWeights(file: name, message: "header is not a JSON object")
        }
        dataStart = 8 + Int(headerLen)
        let dataSize = fileSize - dataStart
        var entries: [String: Entry] = [:]
        for (key, value) in json where key != "__metadata__" {
            guard let info = value as? [String: Any],
                  let dtypeName = info["dtype"] as? String,
                  let shapeAny = info["shape"] as? [Any],
                  let offsAny = info["data_offsets"] as? [Any], offsAny.count == 2 else {
                throw EngineError.badWeights(file: name, message: "tensor '\(key)': malformed header entry")
            }
            guard let dtype = StorageType(rawValue: dtypeName) else {
                throw EngineError.badWeights(file: name, message: "tensor '\(key)': unsupported dtype \(dtypeName) (F32, BF16, F16, U8, I8)")
            }
            let shape = shapeAny.compactMap { ($0 as? NSNumber)?.intValue }
            let offs = offsAny.compactMap { ($0 as? NSNumber)?.intValue }
            guard shape.count == shapeAny.count, shape.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }), offs.count == 2 else {
                throw EngineError.badWeights(file: name, message: "tensor '\(key)': bad shape or offsets")
            }
            let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d); return (p, acc.1 || o)
            }
            guard !overflow, offs[0] >= 0, offs[1] >= offs[0], offs[1] <= dataSize,
                  offs[1] - offs[0] == elements * dtype.size else {
                throw EngineError.badWeights(file: name, message: "tensor '\(key)': data range \(offs) does not fit shape \(shape) × \(dtype.size) bytes in \(dataSize) data bytes (truncated file?)")
            }
            entries[key] = Entry(dtype: dtype, shape: shape, begin: offs[0], end: offs[1])
        }
        self.entries = entries
    }

    /// Reads one tensor as float32, checking its shape.
    public func read(_ name: String, shape expected: [Int]) throws -> Tensor {
        guard let e = entries[name] else { throw EngineError.badTensor(name: name, message: "missing from \((path as NSString).lastPathComponent)") }
        guard e.shape == expected else {
            throw EngineError.badTensor(name: name, message: "shape \(e.shape), the manifest implies \(expected)")
        }
        let t = Tensor(shape: expected)
        let bytes = e.end - e.begin
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw EngineError.missingFile(path) }
        defer { close(fd) }
        switch e.dtype {
        case .f32:
            try readFully(fd, into: UnsafeMutableRawPointer(t.data), count: bytes, at: dataStart + e.begin, name: name)
        case .u8, .i8:
            var raw = [UInt8](repeating: 0, count: t.count)
            try raw.withUnsafeMutableBytes { try readFully(fd, into: $0.baseAddress!, count: bytes, at: dataStart + e.begin, name: name) }
            for i in 0..<t.count { t.data[i] = e.dtype == .u8 ? Float(raw[i]) : Float(Int8(bitPattern: raw[i])) }
        case .bf16, .f16:
            var raw = [UInt16](repeating: 0, count: t.count)
            try raw.withUnsafeMutableBytes { try readFully(fd, into: $0.baseAddress!, count: bytes, at: dataStart + e.begin, name: name) }
            for i in 0..<t.count {
                let v = UInt16(littleEndian: raw[i])
                t.data[i] = e.dtype == .bf16 ? Float(bitPattern: UInt32(v) << 16) : Float(Float16(bitPattern: v))
            }
        }
        #if _endian(big)
        if e.dtype == .f32 { for i in 0..<t.count { t.data[i] = Float(bitPattern: UInt32(littleEndian: t.data[i].bitPattern)) } }
        #endif
        return t
    }

    /// Reads an `I8 [rows, cols]` tensor as stored, into `into.values` (scales are left to the caller).
    public func readInt8(_ name: String, into q: Int8Matrix) throws {
        guard let e = entries[name] else { throw EngineError.badTensor(name: name, message: "missing from \((path as NSString).lastPathComponent)") }
        guard e.dtype == .i8, e.shape == [q.rows, q.cols] else {
            throw EngineError.badTensor(name: name, message: "is \(e.dtype.rawValue) \(e.shape), expected I8 [\(q.rows), \(q.cols)]")
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw EngineError.missingFile(path) }
        defer { close(fd) }
        try readFully(fd, into: UnsafeMutableRawPointer(q.values), count: e.end - e.begin, at: dataStart + e.begin, name: name)
    }

    private func readFully(_ fd: Int32, into dst: UnsafeMutableRawPointer, count: Int, at offset: Int, name: String) throws {
        var done = 0
        while done < count {
            let n = pread(fd, dst + done, count - done, off_t(offset + done))
            guard n > 0 else {
                throw EngineError.badWeights(file: (path as NSString).lastPathComponent, message: "tensor '\(name)': short read (truncated file?)")
            }
            done += n
        }
    }
}
