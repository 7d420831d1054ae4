# Writes OUT with the sha256 of the sources under SRC that determine what the tiny-LM trainer
# computes (attnlab/attention, nn, models/gpt2, models/tinylm, io, core): the report's
# trained-model cache is keyed by it, so a cached model is reused exactly while this code is
# unchanged (models/bert, which the trainer never runs, is left out). Rewritten only when it
# changes.
# DIRS (optional, ';'-separated, relative to SRC) adds more source folders to the hash: the
# trade-off study's cache key also covers attnlab/analysis/tradeoff.
set(globs ${SRC}/attnlab/attention/*.?pp ${SRC}/attnlab/nn/*.?pp ${SRC}/attnlab/models/gpt2/*.?pp
    ${SRC}/attnlab/models/tinylm/*.?pp ${SRC}/attnlab/io/*.?pp ${SRC}/attnlab/core/*.?pp)
if(DEFINED DIRS)
  foreach(d ${DIRS})
    list(APPEND globs ${SRC}/${d}/*.?pp)
  endforeach()
endif()
file(GLOB_RECURSE files RELATIVE ${SRC} ${globs})
list(SORT files)
set(all "")
foreach(f ${files})
  file(SHA256 ${SRC}/${f} h)
  string(APPEND all "${f} ${h}\n")
endforeach()
string(SHA256 digest "${all}")
string(SUBSTRING ${digest} 0 16 digest)
set(content "\"${digest}\"\n")
include(${CMAKE_CURRENT_LIST_DIR}/write_if_changed.cmake)
write_if_changed(${OUT} "${content}")
