// Rates a shell command line before `wick cmd` shows or runs it: safe, caution or
// dangerous, with the reasons in words. The line is parsed (shell/shell_parser.h), not
// searched for substrings: `echo "rm -rf /"` only prints, `rm -rf '*'` deletes one oddly
// named file, while `cd / && rm -rf *` deletes everything.
//
// Every simple command is rated: those joined by ; && || | & and newlines, those inside
// $(...), `...`, <(...), `bash -c '...'`, `sh -c`, `su -c`, `eval`, `watch`, `ssh host ...`,
// `env -S`, a shell fed by a here-document or by `echo ... |`, and `find -exec`; the prefixes
// sudo, doas, pkexec, env, nohup, setsid, exec, command, builtin, time, nice, ionice,
// timeout, stdbuf, chroot, busybox and xargs are looked through. Redirections (> >> 2> &> >|)
// and `tee` are writes. `cd` and plain assignments (X=/; rm -rf "$X"/*) earlier on the line
// are followed. The rating is the worst of all findings.
//
// Dangerous:
//  - recursive delete (rm -r/-R/--recursive, in any spelling: -rf, -fr, -r -f, -Rf) of /, /*,
//    ~, ~/*, $HOME, *, ., .., a top-level directory, every home directory (/home/*) or a
//    user's (/home/alice), or a system directory or anything in it (/bin /boot /dev /etc
//    /lib /lib64 /opt /proc /root /sbin /srv /sys /usr /var, macOS' /System /Library ...;
//    /var/tmp/* excepted); relative paths after `cd` are resolved; "$DIR"/* counts as /*
//    (an empty DIR makes it so); rm --no-preserve-root; non-recursive rm of /* or of a glob
//    or top-level entry in a system directory; deleting a critical file or shell history;
//  - find ... -delete / -exec rm (or chmod/chown) starting at one of those paths, and
//    `find <such a path> | xargs rm`;
//  - mkfs*, mke2fs, mkswap, wipefs (but -n), blkdiscard, fdisk/sfdisk/parted/gdisk/sgdisk
//    unless only listing; dd of=/dev/<disk>; shred of a disk;
//  - writing (>, >>, tee, cp, dd, ln) to a disk device (/dev/sd*, nvme*, hd*, vd*, xvd*,
//    mmcblk*, disk*, md*, dm-*, /dev/mapper/*), to /proc/sysrq-trigger, or to a critical
//    file: /etc/passwd, shadow, group, gshadow, sudoers(.d), fstab, pam.d, /boot, /efi;
//  - fork bombs: a function that calls itself in a pipe or in the background;
//  - chmod/chown/chgrp -R on /, a top-level or system directory or every home directory;
//    chmod/chown of a critical file (other recursive ones are caution);
//  - curl/wget/fetch piped into a shell or interpreter (also through sudo or tee), a shell
//    running <(curl ...), any command, eval or sh -c string that runs $(curl ...), running a
//    file downloaded earlier on the line (curl -o x.sh && sh x.sh), and decoded text piped
//    into a shell (base64 -d | sh);
//  - shutdown (not -c), reboot, halt, poweroff, init/telinit 0 or 6, systemctl
//    poweroff/reboot/halt/kexec;
//  - git push --force / -f / +refspec;
//  - wiping shell history: history -c, > ~/.bash_history, rm ~/.bash_history, unset
//    HISTFILE, HISTSIZE=0 / HISTFILESIZE=0 / SAVEHIST=0, HISTFILE=/dev/null, set +o history;
//  - kill -9 -1 (any signal to pid -1), killall5, pkill/killall matching every process or
//    every process of a user;
//  - mv of /, a top-level or system directory, ~ or every home; mv onto /dev/null;
//  - crontab -r.
// Caution:
//  - anything run through sudo, doas, pkexec or su;
//  - a shell reading commands from a pipe whose source is not known (cat x | bash);
//  - other recursive deletes; rm/unlink/shred of specific files; find -delete elsewhere;
//    xargs rm; truncate;
//  - git push --force-with-lease, --delete or :branch; git reset --hard; git clean -f;
//    git checkout/restore of everything; git branch -D; git stash drop/clear;
//  - other recursive chmod/chown/chgrp; iptables/ip6tables -F/-X/-P, nft flush, ufw
//    disable/reset; systemctl stop/disable/mask/suspend...; kill and pkill of a process;
//  - package removal (apt/dnf/yum/pacman/brew/pip/npm), docker rm/prune, kubectl delete;
//  - `> file` or `: > file` truncating a file, `cmd > file` overwriting an existing one;
//    writing outside the working directory; writing to another device; writing into a
//    system directory;
//  - a line that does not parse completely (an unterminated quote) or nests too deep.
// Safe: everything else, notably read-only commands (ls, cat, grep, find without actions,
// du, df, ps, git status/log/diff, echo) and writes inside the working directory.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wick::shell {

enum class Risk { kSafe, kCaution, kDangerous };

struct RiskReport {
  Risk risk = Risk::kSafe;
  std::vector<std::string> reasons;  // human-readable, worst first: "recursive delete of /"
};

// Rates `command`, one command line for a POSIX-like shell (bash, zsh, sh; fish lines that
// use the common syntax rate the same). Reads the working directory and $HOME to tell
// writes outside the working directory and overwrites of existing files; runs nothing.
RiskReport RateCommand(std::string_view command);

// "safe", "caution", "dangerous".
std::string_view RiskName(Risk risk);

}  // namespace wick::shell
