import CSkiffHash
public import Foundation

/// SHA-256 of bytes, as lower-case hex: the journal's content key, so a re-dropped file with the
/// same bytes is recognised whatever its name.
public enum ContentHash {
    public static func sha256(_ data: Data) -> String {
        var context = skiff_sha256()
        skiff_sha256_init(&context)
        data.withUnsafeBytes { raw in
            if let base = raw.baseAddress { skiff_sha256_update(&context, base, raw.count) }
        }
        var digest = [UInt8](repeating: 0, count: 32)
        skiff_sha256_final(&context, &digest)
        return digest.map { String(format: "%02x", $0) }.joined()
    }
}
