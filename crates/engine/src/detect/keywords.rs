//! The words that [`super::detect`] knows, as data: English function words, words that start
//! statements, and each language's keywords with their weights. `language.rs` turns this text
//! into a lookup table once per process.

/// `tag: words`. Tags: `stop`, `weak` (see above), `start`, or a language and a weight.
pub(super) const KEYWORDS: &str = "
stop: the of to that it be are by at which can will you your we have has was were but when there
stop: their they these those its also should would may must such only into than more other some
stop: been being does how what about after before because between both could either every here
stop: however many most much need now often same so still through under until very whether who
stop: whose why within without us he she his her them me one two yes see used allows given
weak: using
weak: a is and or not in for if with as on this from do use then done else new case set type our
weak: all any each no
start: return break continue goto fi esac done then else elif do def fn let const var my our sub raise
start: if for while with try except case switch unless foreach yield del assert
start: import use from package class struct enum impl pub static typedef extern template namespace
start: local export echo unset function func SELECT INSERT UPDATE DELETE CREATE ALTER DROP GRANT
start: REVOKE COMMENT BEGIN END DECLARE RETURN RETURNS LANGUAGE AS FROM WHERE AND OR JOIN OUT IN INOUT
python3: def elif None lambda except raise isinstance __init__ kwargs nonlocal __name__ self
python2: True False yield pass len dict str cls print elif range
python1: import from class try finally with assert list not and or is in async await args
rust4: fn mut impl pub crate usize isize Vec dyn trait derive macro_rules u8 u16 u32 u64 u128 i8 i16
rust4: i32 i64 i128 f32 f64
rust3: Some Ok Err Self Option Result Box unsafe unwrap match mod let where loop
rust2: use self String ref enum struct str async await as move
c3: typedef NULL __THROW __attribute__ size_t uint8_t uint16_t uint32_t uint64_t int32_t int64_t
c3: __BEGIN_DECLS __END_DECLS __extension__ __restrict __nonnull __wur __inline
c2: extern unsigned sizeof void int char struct static goto register volatile union
c1: long short double float const enum switch case break inline bool printf assert
cpp4: template typename namespace std nullptr noexcept constexpr _GLIBCXX_NOEXCEPT
cpp3: virtual operator explicit friend using decltype _Tp _Alloc __gnu_cxx static_cast dynamic_cast
cpp3: reinterpret_cast const_cast size_type iterator
cpp2: public private protected delete
cpp1: class this new bool inline const auto typedef void
java3: implements throws synchronized Override
java2: public private protected final extends boolean System String package interface instanceof
java1: class void int new null static import
javascript4: function var undefined typeof prototype console exports require
javascript3: module Promise async await
javascript2: this null instanceof export
javascript1: const let new class
go4: func chan defer fmt nil Println
go2: package interface go range struct
shell4: fi esac
shell3: echo unset trap getopts IFS dirname basename elif then
shell2: export local exit shift done sed awk grep eval test
perl4: my sub elsif unless bless undef qw croak wantarray __PACKAGE__ foreach
perl3: our SUPER confess carp scalar defined
perl2: use local die push shift keys ref strict warnings qq exists
sql4: SELECT CREATE RETURNS ALTER GRANT REVOKE IMMUTABLE INSERT PERFORM plpgsql STRICT INOUT
sql3: FROM WHERE TABLE FUNCTION VALUES UPDATE DELETE DROP JOIN SCHEMA EXTENSION COMMENT
sql3: CONSTRAINT VOLATILE STABLE OPERATOR
sql2: LANGUAGE INTO VIEW INDEX ORDER GROUP INTEGER SET TYPE DECLARE CAST TRIGGER EXECUTE
sql2: PROCEDURE SEQUENCE PRIMARY REFERENCES UNION DISTINCT EXISTS PARALLEL SAFE COMMIT
sql1: AS AND OR NOT NULL ON BY IS TEXT CASE WHEN THEN ELSE END BEGIN RETURN REPLACE LIMIT
sql1: DEFAULT KEY LEFT IF
sql2: OUT IN
";
