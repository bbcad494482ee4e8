// An implementation of C2SP cosignature/v1 on Go's golang.org/x/mod/sumdb/note (Debian's
// golang-golang-x-mod-dev), written from the specification, not from strikevote's code: note
// parsing, key hashes' use, signature lines and Ed25519 are the Go package's and the Go
// standard library's; only the cosigned message (two header lines) is written here.
//
//	go run main.go verify <log vkey> <witness vkey>   < cosigned note
//	go run main.go cosign <name> <base64 seed> <time> < signed note   (prints vkey, then note)
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

const algCosignatureV1 = 0x04

func keyHash(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write(key)
	sum := h.Sum(nil)
	return binary.BigEndian.Uint32(sum)
}

func message(text []byte, t uint64) []byte {
	return append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), text...)
}

type cosigVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
	seen uint64
}

func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return v.hash }
func (v *cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	if ed25519.Verify(v.key, message(msg, t), sig[8:]) {
		v.seen = t
		return true
	}
	return false
}

func parseCosigVerifier(vkey string) (*cosigVerifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("malformed witness vkey")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algCosignatureV1 {
		return nil, errors.New("witness vkey is not a cosignature/v1 key")
	}
	hash := keyHash(parts[0], raw)
	if fmt.Sprintf("%08x", hash) != parts[1] {
		return nil, errors.New("witness vkey's key hash does not match")
	}
	return &cosigVerifier{name: parts[0], hash: hash, key: raw[1:]}, nil
}

type cosigSigner struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
	time uint64
}

func (s *cosigSigner) Name() string    { return s.name }
func (s *cosigSigner) KeyHash() uint32 { return s.hash }
func (s *cosigSigner) Sign(msg []byte) ([]byte, error) {
	out := make([]byte, 8, 8+ed25519.SignatureSize)
	binary.BigEndian.PutUint64(out, s.time)
	return append(out, ed25519.Sign(s.key, message(msg, s.time))...), nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	switch {
	case len(os.Args) == 4 && os.Args[1] == "verify":
		logKey, err := note.NewVerifier(os.Args[2])
		if err != nil {
			fail(err)
		}
		witness, err := parseCosigVerifier(os.Args[3])
		if err != nil {
			fail(err)
		}
		n, err := note.Open(input, note.VerifierList(logKey, witness))
		if err != nil {
			fail(err)
		}
		names := map[string]bool{}
		for _, sig := range n.Sigs {
			names[sig.Name] = true
		}
		if !names[logKey.Name()] || !names[witness.Name()] {
			fail(errors.New("the log's signature and the witness's cosignature did not both verify"))
		}
		fmt.Printf("verified: log %s, witness %s at time %d\n", logKey.Name(), witness.Name(), witness.seen)
	case len(os.Args) == 5 && os.Args[1] == "cosign":
		seed, err := base64.StdEncoding.DecodeString(os.Args[3])
		if err != nil || len(seed) != ed25519.SeedSize {
			fail(errors.New("seed must be 32 bytes of base64"))
		}
		t, err := strconv.ParseUint(os.Args[4], 10, 63)
		if err != nil {
			fail(err)
		}
		key := ed25519.NewKeyFromSeed(seed)
		pub := append([]byte{algCosignatureV1}, key.Public().(ed25519.PublicKey)...)
		signer := &cosigSigner{name: os.Args[2], hash: keyHash(os.Args[2], pub), key: key, time: t}
		// Keep the log's signature: parse the note without verifying it, then sign it.
		text, sigs, found := strings.Cut(string(input), "\n\n")
		if !found {
			fail(errors.New("not a signed note"))
		}
		signed, err := note.Sign(&note.Note{Text: text + "\n"}, signer)
		if err != nil {
			fail(err)
		}
		fmt.Printf("%s+%08x+%s\n", signer.name, signer.hash, base64.StdEncoding.EncodeToString(pub))
		fmt.Print(text + "\n\n" + sigs + strings.SplitN(string(signed), "\n\n", 2)[1])
	default:
		fail(errors.New("usage: verify <log vkey> <witness vkey> | cosign <name> <seed> <time>"))
	}
}
