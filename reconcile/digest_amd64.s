//go:build !purego

#include "textflag.h"

// AVX-512 forms of hash9, hash5, rowFold and rowFinish (digest.go), eight
// values at a time in the 64-bit lanes of a ZMM register. Each computes
// exactly the scalar function in every lane; digest_amd64_test.go checks
// them against it. n is a multiple of 8; the Go wrappers do the rest.

#define PRIME1 $0x9E3779B185EBCA87
#define PRIME2 $0xC2B2AE3D27D4EB4F
#define PRIME3 $0x165667B19E3779F9
#define PRIME4 $0x85EBCA77C2B2AE63
#define PRIME5 $0x27D4EB2F165667C5

// QWORDS8 defines name<> as the 64 bytes of the eight quadwords a-h, for
// loads and memory operands; VEC8 as eight times the value v.
#define QWORDS8(name, a, b, c, d, e, f, g, h) \
	DATA name<>+0x00(SB)/8, a \
	DATA name<>+0x08(SB)/8, b \
	DATA name<>+0x10(SB)/8, c \
	DATA name<>+0x18(SB)/8, d \
	DATA name<>+0x20(SB)/8, e \
	DATA name<>+0x28(SB)/8, f \
	DATA name<>+0x30(SB)/8, g \
	DATA name<>+0x38(SB)/8, h \
	GLOBL name<>(SB), RODATA|NOPTR, $64

#define VEC8(name, v) QWORDS8(name, v, v, v, v, v, v, v, v)

// BCAST broadcasts the constant c to every lane of z; HASHPRIMES puts
// prime1, prime2, prime3 and prime5 in Z28, Z29, Z27 and Z31.
#define BCAST(c, z) \
	MOVQ c, AX \
	VPBROADCASTQ AX, z

#define HASHPRIMES \
	BCAST(PRIME1, Z28) \
	BCAST(PRIME2, Z29) \
	BCAST(PRIME3, Z27) \
	BCAST(PRIME5, Z31)

// Byte shuffles that turn a lane's value v into the message's first word
// without its tag byte: for hash9 the bytes 0, v7, v6, ..., v1 (v
// big-endian after the tag), for hash5 the bytes 0, v3, v2, v1. An index
// with its top bit set writes a zero; VPSHUFB works within 128-bit lanes,
// hence the second quadword's indexes start at 8.
QWORDS8(shuf9, $0x0102030405060780, $0x090a0b0c0d0e0f80, $0x0102030405060780, $0x090a0b0c0d0e0f80, $0x0102030405060780, $0x090a0b0c0d0e0f80, $0x0102030405060780, $0x090a0b0c0d0e0f80)
QWORDS8(shuf5, $0x8080808001020380, $0x80808080090a0b80, $0x8080808001020380, $0x80808080090a0b80, $0x8080808001020380, $0x80808080090a0b80, $0x8080808001020380, $0x80808080090a0b80)

// AVALANCHE is xxAvalanche of reg, with prime2 in p2 and prime3 in p3;
// tmp is clobbered.
#define AVALANCHE(reg, tmp, p2, p3) \
	VPSRLQ  $33, reg, tmp \
	VPXORQ  tmp, reg, reg \
	VPMULLQ p2, reg, reg  \
	VPSRLQ  $29, reg, tmp \
	VPXORQ  tmp, reg, reg \
	VPMULLQ p3, reg, reg  \
	VPSRLQ  $32, reg, tmp \
	VPXORQ  tmp, reg, reg

// LASTBYTE ends hash9 and hash5: it folds the message's last byte, the
// lowest of the value in Z0, into h in Z1, avalanches h and stores it at
// DI. Z2 is clobbered.
#define LASTBYTE \
	VPANDQ  Z23, Z0, Z2 \
	VPMULLQ Z31, Z2, Z2 \
	VPXORQ  Z2, Z1, Z1 \
	VPROLQ  $11, Z1, Z1 \
	VPMULLQ Z28, Z1, Z1 \
	AVALANCHE(Z1, Z2, Z29, Z27) \
	VMOVDQU64 Z1, (DI)

// func hash9x8(dst, src *uint64, n int, tag uint64, signed32 bool)
// dst[i] = hash9(tag, src[i]); with signed32, src holds int32 values
// that are sign-extended first.
TEXT ·hash9x8(SB), NOSPLIT, $0-33
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	HASHPRIMES
	BCAST(PRIME4, Z30)
	BCAST($0x27D4EB2F165667CE, Z26) // the seed: prime5 + 9, the length
	MOVQ tag+24(FP), AX
	VPBROADCASTQ AX, Z25
	BCAST($0xff, Z23)
	VMOVDQU64 shuf9<>(SB), Z24
	MOVBLZX signed32+32(FP), BX
	SHRQ $3, CX
	JZ   done9

loop9:
	TESTQ BX, BX
	JNZ  load32
	VMOVDQU64 (SI), Z0
	ADDQ $64, SI
	JMP  loaded

load32:
	VPMOVSXDQ (SI), Z0
	ADDQ $32, SI

loaded:
	VPSHUFB Z24, Z0, Z1
	VPORQ   Z25, Z1, Z1  // k = tag | bswap(v)<<8
	VPMULLQ Z29, Z1, Z1
	VPROLQ  $31, Z1, Z1
	VPMULLQ Z28, Z1, Z1  // xxRound(0, k)
	VPXORQ  Z26, Z1, Z1
	VPROLQ  $27, Z1, Z1
	VPMULLQ Z28, Z1, Z1
	VPADDQ  Z30, Z1, Z1
	LASTBYTE
	ADDQ $64, DI
	DECQ CX
	JNZ  loop9

done9:
	VZEROUPPER
	RET

// func hash5x8(dst *uint64, src *uint32, n int, tag uint64)
// dst[i] = hash5(tag, src[i]).
TEXT ·hash5x8(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	HASHPRIMES
	BCAST($0x27D4EB2F165667CA, Z26) // the seed: prime5 + 5, the length
	MOVQ tag+24(FP), AX
	VPBROADCASTQ AX, Z25
	BCAST($0xff, Z23)
	VMOVDQU64 shuf5<>(SB), Z24
	SHRQ $3, CX
	JZ   done5

loop5:
	VPMOVZXDQ (SI), Z0
	VPSHUFB Z24, Z0, Z1
	VPORQ   Z25, Z1, Z1  // the first four message bytes
	VPMULLQ Z28, Z1, Z1
	VPXORQ  Z26, Z1, Z1
	VPROLQ  $23, Z1, Z1
	VPMULLQ Z29, Z1, Z1
	VPADDQ  Z27, Z1, Z1
	LASTBYTE
	ADDQ $32, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop5

done5:
	VZEROUPPER
	RET

// SUM8 leaves the sum of the eight lanes of Z0 in AX; Z1 is clobbered.
#define SUM8 \
	VEXTRACTI64X4 $1, Z0, Y1 \
	VPADDQ        Y1, Y0, Y0 \
	VEXTRACTI128  $1, Y0, X1 \
	VPADDQ        X1, X0, X0 \
	VPSHUFD       $0x4e, X0, X1 \
	VPADDQ        X1, X0, X0 \
	VMOVQ         X0, AX

// func foldx8(r, d *uint64, n int) (sum uint64)
// r[i] = rowFold(r[i], d[i]); sum is the sum of d.
TEXT ·foldx8(SB), NOSPLIT, $0-32
	MOVQ r+0(FP), DI
	MOVQ d+8(FP), SI
	MOVQ n+16(FP), CX
	BCAST(PRIME1, Z28)
	BCAST(PRIME2, Z29)
	BCAST(PRIME4, Z30)
	VPXORQ Z0, Z0, Z0
	SHRQ $3, CX
	JZ   donefold

loopfold:
	VMOVDQU64 (SI), Z2
	VPADDQ    Z2, Z0, Z0
	VPMULLQ   Z29, Z2, Z2
	VPROLQ    $31, Z2, Z2
	VPMULLQ   Z28, Z2, Z2
	VPXORQ    (DI), Z2, Z2
	VPROLQ    $27, Z2, Z2
	VPMULLQ   Z28, Z2, Z2
	VPADDQ    Z30, Z2, Z2
	VMOVDQU64 Z2, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loopfold

donefold:
	SUM8
	MOVQ AX, sum+24(FP)
	VZEROUPPER
	RET

// func finishx8(r *uint64, n int) (sum uint64)
// r[i] = rowFinish(r[i]); sum is the sum of the results.
TEXT ·finishx8(SB), NOSPLIT, $0-24
	MOVQ r+0(FP), DI
	MOVQ n+8(FP), CX
	BCAST(PRIME2, Z29)
	BCAST(PRIME3, Z27)
	VPXORQ Z0, Z0, Z0
	SHRQ $3, CX
	JZ   donefinish

loopfinish:
	VMOVDQU64 (DI), Z2
	AVALANCHE(Z2, Z3, Z29, Z27)
	VMOVDQU64 Z2, (DI)
	VPADDQ    Z2, Z0, Z0
	ADDQ $64, DI
	DECQ CX
	JNZ  loopfinish

donefinish:
	SUM8
	MOVQ AX, sum+16(FP)
	VZEROUPPER
	RET

// Index vectors for VPERMT2Q: with two registers each holding the four
// message words of two strings, permA gathers words 0 and 1 of the four
// strings, permB words 2 and 3; permLo and permHi then join the halves of
// two such results into one word of all eight strings.
QWORDS8(permA, $0, $4, $8, $12, $1, $5, $9, $13)
QWORDS8(permB, $2, $6, $10, $14, $3, $7, $11, $15)

QWORDS8(permLo, $0, $1, $2, $3, $8, $9, $10, $11)
QWORDS8(permHi, $4, $5, $6, $7, $12, $13, $14, $15)

VEC8(k1, $1)
VEC8(k2, $2)
VEC8(k3, $3)
VEC8(k4, $4)
VEC8(k7, $7)
VEC8(k15, $15)
VEC8(k23, $23)
VEC8(k29, $29)
VEC8(k31, $31)
VEC8(k39, $39)
VEC8(k47, $47)
VEC8(k55, $55)
VEC8(k61, $61)
VEC8(kff, $0xff)
VEC8(kprime4, PRIME4)
VEC8(kseed1, $0x60EA27EEADC0B5D6) // prime1 + prime2 mod 2^64
VEC8(kseed4, $0x61C8864E7A143579) // -prime1 mod 2^64

// Registers of hashShortx8 across a block: Z16 prime1, Z17 prime2, Z18
// prime3, Z19 prime5, Z26 the tag, Z27-Z30 the four permutations; Z20 h,
// Z21 L (the message lengths), Z22 the string lengths, Z23 the partial
// word; Z0-Z7 the message words W0-W7 of the eight strings; Z8-Z15 the
// loaded messages, then scratch; Z24, Z25 scratch. K5: the lanes whose
// message is under 32 bytes.

// LOADMSG32 loads the bytes of string j of the block (offsets at BX, data
// at DX) into bytes 2 and up of the 32-byte register dst, zeroing the
// rest; LOADMSG64 does so into 64 bytes. The loads are masked to the
// string's own bytes, so they read nothing outside them, whatever lies
// around.
#define LOADMSG32(j, dst) \
	MOVL    (j*4)(BX), R8 \
	MOVL    (j*4+4)(BX), R9 \
	SUBQ    R8, R9 \
	SHLXQ   R9, R15, R10 \
	DECQ    R10 \
	SHLQ    $2, R10 \
	KMOVD   R10, K2 \
	VMOVDQU8.Z -2(DX)(R8*1), K2, dst

#define LOADMSG64(j, dst) \
	MOVL    (j*4)(BX), R8 \
	MOVL    (j*4+4)(BX), R9 \
	SUBQ    R8, R9 \
	SHLXQ   R9, R15, R10 \
	DECQ    R10 \
	SHLQ    $2, R10 \
	KMOVQ   R10, K2 \
	VMOVDQU8.Z -2(DX)(R8*1), K2, dst

// ROUND0 sets dst to xxRound(0, w) = rotl(w*prime2, 31)*prime1.
#define ROUND0(w, dst) \
	VPMULLQ Z17, w, dst \
	VPROLQ  $31, dst, dst \
	VPMULLQ Z16, dst, dst

// STEP8 folds message word w into h in the lanes of mask k.
#define STEP8(w, k) \
	ROUND0(w, Z24) \
	VPXORQ  Z20, Z24, Z24 \
	VPROLQ  $27, Z24, Z24 \
	VPMULLQ Z16, Z24, Z24 \
	VPADDQ  kprime4<>(SB), Z24, k, Z20

// STEP1 folds the low byte of the partial word into h in the lanes of
// mask k and shifts the partial word right by a byte.
#define STEP1(k) \
	VPANDQ  kff<>(SB), Z23, Z24 \
	VPSRLQ  $8, Z23, Z23 \
	VPMULLQ Z19, Z24, Z24 \
	VPXORQ  Z20, Z24, Z24 \
	VPROLQ  $11, Z24, Z24 \
	VPMULLQ Z16, Z24, k, Z20

// STRIPE sets acc to xxhash64's round of acc0 + w: rotl(acc0 + w*prime2,
// 31)*prime1, acc0 a memory operand or register.
#define STRIPE(w, acc0, acc) \
	VPMULLQ Z17, w, acc \
	VPADDQ  acc0, acc, acc \
	VPROLQ  $31, acc, acc \
	VPMULLQ Z16, acc, acc

// MERGE folds accumulator v into h (Z24): h ^= xxRound(0, v); h = h*prime1
// + prime4.
#define MERGE(v) \
	ROUND0(v, Z25) \
	VPXORQ  Z25, Z24, Z24 \
	VPMULLQ Z16, Z24, Z24 \
	VPADDQ  kprime4<>(SB), Z24, Z24

// func hashShortx8(dst *uint64, offs *int32, data unsafe.Pointer, size int, n int, tag uint64) (done int)
// dst[i] = hashTagged(tag, data[offs[i]:offs[i+1]]) for i < n, a multiple
// of 8, eight strings at a time, where size = len(data) < 2^31. It stops
// before the first block of eight holding a string longer than 61 bytes
// (whose message would be 64 bytes or more) or an offset that is negative,
// beyond size or below the one before it, and returns how many it did. A
// block's nine offsets are all checked before any of its strings is read,
// so every read stays inside data. A block of strings of at most 29 bytes
// (messages under 32 bytes) loads and transposes half as much.
TEXT ·hashShortx8(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ offs+8(FP), BX
	MOVQ data+16(FP), DX
	MOVQ size+24(FP), R13
	MOVQ n+32(FP), CX
	BCAST(PRIME1, Z16)
	BCAST(PRIME2, Z17)
	BCAST(PRIME3, Z18)
	BCAST(PRIME5, Z19)
	MOVQ tag+40(FP), AX
	VPBROADCASTQ AX, Z26
	VMOVDQU64 permA<>(SB), Z27
	VMOVDQU64 permB<>(SB), Z28
	VMOVDQU64 permLo<>(SB), Z29
	VMOVDQU64 permHi<>(SB), Z30
	MOVQ $1, R15
	XORQ R14, R14 // strings done
	SHRQ $3, CX
	JZ   doneshort

loopshort:
	// The block's nine offsets, read as unsigned, must not pass size; the
	// eight lengths (Z22, as quadwords) must lie in [0, 61]. Otherwise the
	// run ends here.
	VMOVDQU      (BX), Y8
	VMOVDQU      4(BX), Y9
	VPMAXUD      Y8, Y9, Y10
	VPMOVZXDQ    Y10, Z10
	VPBROADCASTQ R13, Z11
	VPCMPUQ      $6, Z11, Z10, K1
	VPSUBD       Y8, Y9, Y9
	VPMOVZXDQ    Y9, Z22
	VPCMPUQ      $6, k61<>(SB), Z22, K3
	KORB         K1, K3, K1
	KORTESTB     K1, K1
	JNZ          doneshort
	VPCMPUQ      $6, k29<>(SB), Z22, K1
	KORTESTB     K1, K1
	JNZ          long

	// Messages under 32 bytes: four words each, transposed into W0-W3.
	LOADMSG32(0, Y8)
	LOADMSG32(1, Y9)
	LOADMSG32(2, Y10)
	LOADMSG32(3, Y11)
	LOADMSG32(4, Y12)
	LOADMSG32(5, Y13)
	LOADMSG32(6, Y14)
	LOADMSG32(7, Y15)
	VINSERTI64X4 $1, Y9, Z8, Z8
	VINSERTI64X4 $1, Y11, Z10, Z10
	VINSERTI64X4 $1, Y13, Z12, Z12
	VINSERTI64X4 $1, Y15, Z14, Z14
	VMOVDQA64 Z8, Z9
	VPERMT2Q  Z10, Z27, Z8
	VPERMT2Q  Z10, Z28, Z9
	VMOVDQA64 Z12, Z13
	VPERMT2Q  Z14, Z27, Z12
	VPERMT2Q  Z14, Z28, Z13
	VMOVDQA64 Z8, Z0
	VPERMT2Q  Z12, Z29, Z0
	VMOVDQA64 Z8, Z1
	VPERMT2Q  Z12, Z30, Z1
	VMOVDQA64 Z9, Z2
	VPERMT2Q  Z13, Z29, Z2
	VMOVDQA64 Z9, Z3
	VPERMT2Q  Z13, Z30, Z3
	JMP       words

long:
	// Messages of up to 63 bytes: eight words each, transposed into
	// W0-W7 in three rounds of pairing (quadwords, 128-bit lanes, then
	// halves).
	LOADMSG64(0, Z8)
	LOADMSG64(1, Z9)
	LOADMSG64(2, Z10)
	LOADMSG64(3, Z11)
	LOADMSG64(4, Z12)
	LOADMSG64(5, Z13)
	LOADMSG64(6, Z14)
	LOADMSG64(7, Z15)
	VPUNPCKLQDQ Z9, Z8, Z0
	VPUNPCKHQDQ Z9, Z8, Z1
	VPUNPCKLQDQ Z11, Z10, Z2
	VPUNPCKHQDQ Z11, Z10, Z3
	VPUNPCKLQDQ Z13, Z12, Z4
	VPUNPCKHQDQ Z13, Z12, Z5
	VPUNPCKLQDQ Z15, Z14, Z6
	VPUNPCKHQDQ Z15, Z14, Z7
	VSHUFI64X2  $0x88, Z2, Z0, Z8
	VSHUFI64X2  $0xdd, Z2, Z0, Z9
	VSHUFI64X2  $0x88, Z3, Z1, Z10
	VSHUFI64X2  $0xdd, Z3, Z1, Z11
	VSHUFI64X2  $0x88, Z6, Z4, Z12
	VSHUFI64X2  $0xdd, Z6, Z4, Z13
	VSHUFI64X2  $0x88, Z7, Z5, Z14
	VSHUFI64X2  $0xdd, Z7, Z5, Z15
	VSHUFI64X2  $0x88, Z12, Z8, Z0
	VSHUFI64X2  $0xdd, Z12, Z8, Z4
	VSHUFI64X2  $0x88, Z13, Z9, Z2
	VSHUFI64X2  $0xdd, Z13, Z9, Z6
	VSHUFI64X2  $0x88, Z14, Z10, Z1
	VSHUFI64X2  $0xdd, Z14, Z10, Z5
	VSHUFI64X2  $0x88, Z15, Z11, Z3
	VSHUFI64X2  $0xdd, Z15, Z11, Z7

words:
	// The head bytes (tag, length) into W0; L = length + 2.
	VPSLLQ $8, Z22, Z24
	VPORQ  Z24, Z0, Z0
	VPORQ  Z26, Z0, Z0
	VPADDQ k2<>(SB), Z22, Z21

	// h = prime5 + L; lanes of 32 bytes or more start from the stripe of
	// four accumulators over W0-W3, merged, plus L.
	VPADDQ   Z19, Z21, Z20
	VPCMPUQ  $2, k31<>(SB), Z21, K5
	KNOTB    K5, K6
	KORTESTB K6, K6
	JZ       short
	STRIPE(Z0, kseed1<>(SB), Z8)
	STRIPE(Z1, Z17, Z9)
	VPMULLQ  Z17, Z2, Z10
	VPROLQ   $31, Z10, Z10
	VPMULLQ  Z16, Z10, Z10
	STRIPE(Z3, kseed4<>(SB), Z11)
	VPROLQ   $1, Z8, Z24
	VPROLQ   $7, Z9, Z25
	VPADDQ   Z25, Z24, Z24
	VPROLQ   $12, Z10, Z25
	VPADDQ   Z25, Z24, Z24
	VPROLQ   $18, Z11, Z25
	VPADDQ   Z25, Z24, Z24
	MERGE(Z8)
	MERGE(Z9)
	MERGE(Z10)
	MERGE(Z11)
	VPADDQ    Z21, Z24, Z24
	VMOVDQA64 Z24, K6, Z20

	// Whole words after the stripe: W4-W6 where L >= 40, 48, 56.
	VPCMPUQ $6, k39<>(SB), Z21, K1
	STEP8(Z4, K1)
	VPCMPUQ $6, k47<>(SB), Z21, K1
	STEP8(Z5, K1)
	VPCMPUQ $6, k55<>(SB), Z21, K1
	STEP8(Z6, K1)

short:
	// Whole words of the short lanes: W0-W2 where L >= 8, 16, 24.
	VPCMPUQ $6, k7<>(SB), Z21, K5, K1
	STEP8(Z0, K1)
	VPCMPUQ $6, k15<>(SB), Z21, K5, K1
	STEP8(Z1, K1)
	VPCMPUQ $6, k23<>(SB), Z21, K5, K1
	STEP8(Z2, K1)

	// The partial word, word L/8, into Z23. Words past W3 (and lanes of
	// 32 bytes or more) exist only in long blocks.
	VMOVDQA64 Z0, Z23
	VPCMPUQ   $6, k7<>(SB), Z21, K1
	VMOVDQA64 Z1, K1, Z23
	VPCMPUQ   $6, k15<>(SB), Z21, K1
	VMOVDQA64 Z2, K1, Z23
	VPCMPUQ   $6, k23<>(SB), Z21, K1
	VMOVDQA64 Z3, K1, Z23
	KORTESTB  K6, K6
	JZ        partial
	VPCMPUQ   $6, k31<>(SB), Z21, K1
	VMOVDQA64 Z4, K1, Z23
	VPCMPUQ   $6, k39<>(SB), Z21, K1
	VMOVDQA64 Z5, K1, Z23
	VPCMPUQ   $6, k47<>(SB), Z21, K1
	VMOVDQA64 Z6, K1, Z23
	VPCMPUQ   $6, k55<>(SB), Z21, K1
	VMOVDQA64 Z7, K1, Z23

partial:
	// Four bytes where L&4 != 0, then the partial word shifted past them.
	VPTESTMQ  k4<>(SB), Z21, K1
	VPSLLQ    $32, Z23, Z24
	VPSRLQ    $32, Z24, Z24
	VPMULLQ   Z16, Z24, Z24
	VPXORQ    Z20, Z24, Z24
	VPROLQ    $23, Z24, Z24
	VPMULLQ   Z17, Z24, Z24
	VPADDQ    Z18, Z24, K1, Z20
	VPANDQ    k4<>(SB), Z21, Z24
	VPSLLQ    $3, Z24, Z24
	VPSRLVQ   Z24, Z23, Z23

	// The last L&3 bytes.
	VPTESTMQ k3<>(SB), Z21, K1
	VPTESTMQ k2<>(SB), Z21, K3
	VPTESTMQ k1<>(SB), Z21, K4
	KANDB    K3, K4, K4
	STEP1(K1)
	STEP1(K3)
	STEP1(K4)

	AVALANCHE(Z20, Z24, Z17, Z18)
	VMOVDQU64 Z20, (DI)
	ADDQ $32, BX
	ADDQ $64, DI
	ADDQ $8, R14
	DECQ CX
	JNZ  loopshort

doneshort:
	MOVQ R14, done+48(FP)
	VZEROUPPER
	RET
