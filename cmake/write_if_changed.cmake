# write_if_changed(PATH CONTENT): writes CONTENT to PATH unless it already holds exactly that, so
# a generated header keeps its timestamp (and its dependents stay built) when nothing changed.
function(write_if_changed path content)
  if(EXISTS ${path})
    file(READ ${path} old)
    if(old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE ${path} "${content}")
endfunction()
