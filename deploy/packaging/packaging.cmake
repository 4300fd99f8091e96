# Debian packages fedsyn-agent and fedsyn-coordinator: `cpack -G DEB` in the build folder.
# deploy/package-check.sh builds them, installs them, runs a release through the services,
# and purges them. Each holds its program, a systemd unit running it as the unprivileged user
# fedsyn (created by postinst), an example configuration in /etc/fedsyn and the README; the
# coordinator's also holds the PKI script as /usr/share/fedsyn/pki.sh.
set(packaging "${CMAKE_CURRENT_LIST_DIR}")
set(generated "${CMAKE_BINARY_DIR}/packaging")

install(TARGETS fedsyn-coordinator RUNTIME DESTINATION bin COMPONENT coordinator)
install(FILES "${packaging}/fedsyn-coordinator.service" DESTINATION /lib/systemd/system
        COMPONENT coordinator)
install(FILES "${packaging}/coordinator.toml.example" DESTINATION /etc/fedsyn
        COMPONENT coordinator)
install(PROGRAMS "${CMAKE_SOURCE_DIR}/deploy/pki/pki.sh" DESTINATION share/fedsyn
        COMPONENT coordinator)
install(FILES "${CMAKE_SOURCE_DIR}/README.md" DESTINATION share/doc/fedsyn-coordinator
        COMPONENT coordinator)

install(TARGETS fedsyn-agent RUNTIME DESTINATION bin COMPONENT agent)
install(FILES "${packaging}/fedsyn-agent.service" DESTINATION /lib/systemd/system
        COMPONENT agent)
install(FILES "${packaging}/site.toml.example" DESTINATION /etc/fedsyn/agent COMPONENT agent)
install(FILES "${CMAKE_SOURCE_DIR}/README.md" DESTINATION share/doc/fedsyn-agent
          COMPONENT agent)

# One template per maintainer script, configured for each package (no twin scripts).
foreach(role agent coordinator)
  set(FEDSYN_ROLE ${role})
  set(FEDSYN_PACKAGE fedsyn-${role})
  if(role STREQUAL "agent")
    set(FEDSYN_OTHER_PACKAGE fedsyn-coordinator)
    set(FEDSYN_PURGED_CONFIG "")
    set(conffiles "/etc/fedsyn/agent/site.toml.example")
  else()
    set(FEDSYN_OTHER_PACKAGE fedsyn-agent)
    set(FEDSYN_PURGED_CONFIG "/etc/fedsyn/coordinator.toml")
    set(conffiles "/etc/fedsyn/coordinator.toml.example")
  endif()
  foreach(script postinst prerm postrm)
    configure_file("${packaging}/${script}.in" "${generated}/${role}/${script}" @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                                    GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  endforeach()
  file(WRITE "${generated}/${role}/conffiles" "${conffiles}\n")
  string(TOUPPER ${role} ROLE)
  set(CPACK_DEBIAN_${ROLE}_PACKAGE_NAME fedsyn-${role})
  set(CPACK_DEBIAN_${ROLE}_PACKAGE_CONTROL_EXTRA
      "${generated}/${role}/postinst;${generated}/${role}/prerm;${generated}/${role}/postrm;${generated}/${role}/conffiles")
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL agent coordinator)
set(CPACK_PACKAGE_NAME fedsyn)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "fedsyn maintainers <fedsyn@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # libtorch, OpenSSL, SQLite, ... from the binaries
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_COMPONENT_AGENT_DESCRIPTION
    "fedsyn site agent: trains a generative model on a hospital's table and releases\n metric-private synthetic records to the federation's coordinator over mutual TLS")
set(CPACK_COMPONENT_COORDINATOR_DESCRIPTION
    "fedsyn coordinator: pools the sites' metric-private releases, keeps the authoritative\n privacy-budget ledger and audits what it receives")
set(CPACK_OUTPUT_FILE_PREFIX packages)
include(CPack)
