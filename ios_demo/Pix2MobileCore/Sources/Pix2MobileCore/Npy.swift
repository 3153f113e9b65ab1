// NumPy's .npy format (versions 1.0-3.0 read, 1.0 written): how golden vectors, bundle vectors
// and the command line's tensors travel. Little-endian `|u1`, `<f4`, `<f8`, C order only: that is
// all pix2mobile writes (docs/preprocessing.md, "Golden vectors").

import Foundation

public struct NpyArray: Equatable, Sendable {
    public enum Storage: Equatable, Sendable {
        case uint8([UInt8])
        case float32([Float])
        case float64([Double])
    }

    public var shape: [Int]
    public var storage: Storage

    public init(shape: [Int], storage: Storage) throws {
        let n = shape.reduce(1, *)
        guard shape.allSatisfy({ $0 >= 0 }), n == storage.count else {
            throw CoreError("an array of shape \(shape) holds \(n) values, got \(storage.count)")
        }
        self.shape = shape
        self.storage = storage
    }

    public init(_ tensor: ImageTensor) {
        shape = tensor.shape
        storage = .float32(tensor.values)
    }

    public var count: Int { storage.count }

    public var descr: String {
        switch storage {
        case .uint8: return "|u1"
        case .float32: return "<f4"
        case .float64: return "<f8"
        }
    }

    /// The values as Float (uint8 levels become 0...255; float64 is rounded to the nearest Float).
    public var floats: [Float] {
        switch storage {
        case .uint8(let v): return v.map { Float($0) }
        case .float32(let v): return v
        case .float64(let v): return v.map { Float($0) }
        }
    }

    public var float32: [Float]? {
        if case .float32(let v) = storage { return v }
        return nil
    }

    public var uint8: [UInt8]? {
        if case .uint8(let v) = storage { return v }
        return nil
    }

    /// An (H, W, 3) or (H, W, 4) uint8 array as pixels (a fourth channel is dropped).
    public func rgbImage() throws -> RGBImage {
        guard let bytes = uint8, shape.count == 3, shape[2] == 3 || shape[2] == 4 else {
            throw CoreError("expected 8-bit RGB(A) pixels of shape (H, W, 3|4), got \(descr) \(shape)")
        }
        if shape[2] == 4 { return try RGBImage(height: shape[0], width: shape[1], rgba: bytes) }
        return try RGBImage(height: shape[0], width: shape[1], pixels: bytes)
    }

    public init(_ image: RGBImage) {
        shape = [image.height, image.width, 3]
        storage = .uint8(image.pixels)
    }

    // ------------------------------------------------------------------------------ reading

    public static func read(_ url: URL) throws -> NpyArray {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw CoreError("\(url.path): cannot read it (\(error.localizedDescription))")
        }
        do { return try parse(data) } catch let e as CoreError { throw CoreError("\(url.path): \(e.message)") }
    }

    public static func parse(_ data: Data) throws -> NpyArray {
        let bytes = [UInt8](data)
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw CoreError("not a .npy file") }
        let major = bytes[6]
        let headerLength: Int
        let start: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            start = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw CoreError("truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            start = 12
        default:
            throw CoreError(".npy version \(major) is not supported")
        }
        guard bytes.count >= start + headerLength,
            let header = String(bytes: bytes[start..<(start + headerLength)], encoding: .utf8)
        else { throw CoreError("truncated .npy header") }
        let descr = try field(header, "descr")
        let fortran = try field(header, "fortran_order")
        let shapeText = try field(header, "shape")
        guard fortran == "False" else { throw CoreError("Fortran-order arrays are not supported; save C order") }
        let shape = try shapeText.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.map { part -> Int in
                guard let n = Int(part), n >= 0 else { throw CoreError("bad .npy shape (\(shapeText))") }
                return n
            }
        let n = shape.reduce(1, *)
        let body = Array(bytes[(start + headerLength)...])
        func need(_ width: Int) throws {
            guard body.count >= n * width else {
                throw CoreError("truncated .npy data: shape \(shape) needs \(n * width) bytes, has \(body.count)")
            }
        }
        switch descr {
        case "|u1", "<u1", "u1", "|b1":
            try need(1)
            return try NpyArray(shape: shape, storage: .uint8(Array(body[0..<n])))
        case "<f4":
            try need(4)
            let v = (0..<n).map { i -> Float in
                let b = 4 * i
                let bits =
                    UInt32(body[b]) | UInt32(body[b + 1]) << 8 | UInt32(body[b + 2]) << 16
                    | UInt32(body[b + 3]) << 24
                return Float(bitPattern: bits)
            }
            return try NpyArray(shape: shape, storage: .float32(v))
        case "<f8":
            try need(8)
            let v = (0..<n).map { i -> Double in
                var bits: UInt64 = 0
                for k in 0..<8 { bits |= UInt64(body[8 * i + k]) << (8 * UInt64(k)) }
                return Double(bitPattern: bits)
            }
            return try NpyArray(shape: shape, storage: .float64(v))
        default:
            throw CoreError("dtype \(descr) is not supported (uint8, little-endian float32 or float64)")
        }
    }

    /// The text of `key` in the header dict: a quoted string, True/False, or a (tuple).
    private static func field(_ header: String, _ key: String) throws -> String {
        guard let k = header.range(of: "'\(key)'") else { throw CoreError(".npy header has no '\(key)'") }
        var rest = header[k.upperBound...].drop { $0 == " " || $0 == ":" }
        if rest.first == "'" {
            rest = rest.dropFirst()
            return String(rest.prefix { $0 != "'" })
        }
        if rest.first == "(" {
            rest = rest.dropFirst()
            return String(rest.prefix { $0 != ")" })
        }
        return String(rest.prefix { $0.isLetter })
    }

    // ------------------------------------------------------------------------------ writing

    public func data() -> Data {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        let n = header.utf8.count
        out += [UInt8(n & 0xFF), UInt8(n >> 8)]
        out += Array(header.utf8)
        switch storage {
        case .uint8(let v):
            out += v
        case .float32(let v):
            out.reserveCapacity(out.count + 4 * v.count)
            for x in v {
                let b = x.bitPattern
                out += [UInt8(b & 0xFF), UInt8(b >> 8 & 0xFF), UInt8(b >> 16 & 0xFF), UInt8(b >> 24)]
            }
        case .float64(let v):
            for x in v {
                let b = x.bitPattern
                for k in 0..<8 { out.append(UInt8(b >> (8 * UInt64(k)) & 0xFF)) }
            }
        }
        return Data(out)
    }

    public func write(_ url: URL) throws {
        do { try data().write(to: url, options: .atomic) } catch {
            throw CoreError("\(url.path): cannot write it (\(error.localizedDescription))")
        }
    }
}

extension NpyArray.Storage {
    public var count: Int {
        switch self {
        case .uint8(let v): return v.count
        case .float32(let v): return v.count
        case .float64(let v): return v.count
        }
    }
}
