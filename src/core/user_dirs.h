// Where the user's files go: environment variables read as plain strings, and the home
// directory even for services started without a login environment.
#pragma once

#include <filesystem>
#include <string>

namespace wick {

// The variable's value; "" when it is unset.
std::string EnvVar(const char* name);

// $HOME, else the passwd entry's home directory, else "/".
std::filesystem::path HomeDir();

}  // namespace wick
